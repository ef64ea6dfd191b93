"""Preparing and submitting a dossier online (Decree 45/2020/ND-CP Art. 4, 6, 9, 17).

The applicant drafts a dossier, fills its e-form, attaches and removes components (uploaded or
from the Repository) and reads the draft back as saved; identity data comes from the token;
a digitally signed e-result is accepted as it is; a required signature is checked; a
submitted dossier is kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_refused, expect_status
from conformance.scenario import Portal, document_bytes, file_for, sample_form, upload
from conformance.signatures import impostor, signed


def components_of(portal: Portal, procedure: str | None = None) -> list[dict[str, Any]]:
    """The component requirements the procedure publishes."""
    return [c for c in portal.procedure(procedure).get("components", []) if isinstance(c, dict)]


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without verifying it (the kit only wants to know who it is)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


@pytest.mark.requirement("SUB-01")
def test_create_dossier_keeps_the_draft_as_the_applicant_saved_it(portal: Portal) -> None:
    """A draft is created, its e-form filled, a file attached and removed, read back as saved."""
    procedure = portal.procedure()
    created = portal.create(form={})
    draft = expect_status("SUB-01", created, 201, why="an applicant starts a draft")
    expect(
        "SUB-01",
        draft.get("status") == "draft" and not draft.get("code"),
        "a new dossier in status draft, with no code yet",
        f"status {draft.get('status')!r}, code {draft.get('code')!r}",
        created,
    )
    path = f"/dossiers/{draft['id']}"
    form = sample_form(procedure["code"])
    changed = portal.call("PATCH", "dossiers", path, as_="applicantA", json={"form": form})
    saved = expect_status("SUB-01", changed, 200, why="updateDossier fills the draft's e-form")
    expect(
        "SUB-01",
        saved.get("form") == form,
        "the form exactly as sent",
        f"form {json.dumps(saved.get('form'), ensure_ascii=False)[:300]}",
        changed,
    )

    component = next((c for c in components_of(portal) if c.get("code")), None)
    if component is None:
        pytest.skip("insufficient test data: the primary procedure lists no component")
    name = file_for(component)
    added = portal.attach(draft["id"], component["code"], upload(name))
    attached = expect_status("SUB-01", added, 201, why=f"attaching {name} as {component['code']}")
    content = document_bytes(name)
    info = attached.get("file") or {}
    expect(
        "SUB-01",
        attached.get("componentCode") == component["code"]
        and info.get("sha256") == hashlib.sha256(content).hexdigest()
        and info.get("size") == len(content)
        and info.get("fileName") == name,
        f"component {component['code']} holding {name}: {len(content)} bytes, its SHA-256",
        f"{json.dumps(attached, ensure_ascii=False)[:300]}",
        added,
    )

    read = portal.get(draft["id"])
    listed = [c.get("id") for c in read.get("components", [])]
    expect(
        "SUB-01",
        read.get("form") == form and attached.get("id") in listed,
        "the draft read back with its form and the attached component",
        f"components {listed}, form {'as sent' if read.get('form') == form else 'changed'}",
    )
    downloaded = portal.call(
        "GET", "dossiers", f"{path}/components/{attached['id']}/content", as_="applicantA"
    )
    expect_status("SUB-01", downloaded, 200, why="the owner downloads an attached file")
    expect(
        "SUB-01",
        downloaded.content == content,
        "the attached file's bytes, unchanged",
        f"{len(downloaded.content)} bytes that differ from the {len(content)} sent",
        downloaded,
    )

    removed = portal.call(
        "DELETE", "dossiers", f"{path}/components/{attached['id']}", as_="applicantA"
    )
    expect_status("SUB-01", removed, 204, why="removeComponent on a draft")
    after = portal.get(draft["id"])
    left = [c.get("id") for c in after.get("components", [])]
    expect(
        "SUB-01",
        attached["id"] not in left,
        "the removed component gone from the draft",
        f"components {left}",
    )


@pytest.mark.requirement("SUB-02")
def test_add_component_takes_an_item_of_the_applicants_repository(portal: Portal) -> None:
    """A component references an item of the applicant's own Repository instead of an upload."""
    component = next(
        (c for c in components_of(portal) if "application/pdf" in (c.get("mediaTypes") or [])), None
    )
    if component is None:
        pytest.skip("insufficient test data: no component of the primary procedure takes a PDF")
    body = {
        "title": "Bản scan giấy tờ (kiểm thử)",
        "file": upload("sample.pdf"),
        "metadata": {"documentType": "Giấy tờ kiểm thử"},
    }
    stored = portal.call("POST", "repository", "/repository/items", as_="applicantA", json=body)
    item = expect_status("SUB-02", stored, 201, why="the applicant stores a digitised document")
    created = portal.create()
    draft = expect_status("SUB-01", created, 201, why="a draft of a valid e-form")
    reference = {"componentCode": component["code"], "repositoryItemId": item["id"]}
    added = portal.call(
        "POST", "dossiers", f"/dossiers/{draft['id']}/components", as_="applicantA", json=reference
    )
    attached = expect_status("SUB-02", added, 201, why="a Repository item as a component")
    sha = hashlib.sha256(document_bytes("sample.pdf")).hexdigest()
    expect(
        "SUB-02",
        attached.get("source") == "repository"
        and attached.get("repositoryItemId") == item["id"]
        and (attached.get("file") or {}).get("sha256") == sha,
        "a component with source repository, the item's id and the item's file",
        json.dumps(attached, ensure_ascii=False)[:300],
        added,
    )
    read = portal.get(draft["id"])
    expect(
        "SUB-02",
        any(c.get("id") == attached["id"] for c in read.get("components", [])),
        "the dossier lists the component taken from the Repository",
        f"components {[c.get('id') for c in read.get('components', [])]}",
    )


@pytest.mark.requirement("SUB-03")
def test_create_dossier_fills_the_applicant_from_the_token(portal: Portal) -> None:
    """The applicant's name and personal ID number come from the sign-in, not from the form."""
    claims = token_claims(portal.client.token("applicantA"))
    personal_id, name = claims.get("personal_id"), claims.get("name")
    if not personal_id:
        pytest.skip("the applicantA token carries no personal_id claim the kit can read")
    created = portal.create()
    draft = expect_status("SUB-01", created, 201, why="a draft of a valid e-form")
    applicant = draft.get("applicant") or {}
    expect(
        "SUB-03",
        applicant.get("personalId") == personal_id
        and (name is None or applicant.get("name") == name),
        f"the applicant block filled from the token: personalId {personal_id}, name {name}",
        f"applicant {json.dumps(applicant, ensure_ascii=False)}",
        created,
    )
    # Submitting without typing the identity again must pass the automatic check.
    for component in components_of(portal):
        if component.get("required"):
            added = portal.attach(draft["id"], component["code"], portal.document_for(component))
            expect_status("SUB-01", added, 201, why=f"component {component['code']}")
    answer = portal.submit(draft["id"])
    sent = expect_status(
        "SUB-03", answer, 200, why="a dossier whose identity data the token carries is received"
    )
    expect(
        "SUB-03",
        (sent.get("applicant") or {}).get("personalId") == personal_id,
        f"the submitted dossier still names personalId {personal_id}",
        f"applicant {sent.get('applicant')}",
        answer,
    )


@pytest.mark.requirement("SUB-04")
def test_submit_dossier_accepts_a_signed_e_result_as_it_is(portal: Portal) -> None:
    """An e-result the state issued and signed is taken as a component as it is, no paper asked."""
    slot = next(
        (
            c
            for c in components_of(portal)
            if "application/pdf" in (c.get("mediaTypes") or []) and not c.get("signatureRequired")
        ),
        None,
    )
    if slot is None:
        pytest.skip("insufficient test data: no unsigned PDF component in the primary procedure")
    resolved = portal.resolved()
    codes = resolved.get("resultCodes") or []
    expect("RES-01", bool(codes), "a resolved dossier lists its result code", "resultCodes []")
    document = portal.call("GET", "results", f"/results/{codes[0]}/document", as_="applicantA")
    expect_status("RES-03", document, 200, why="the holder downloads the e-result")
    signed = upload("sample.pdf", file_name="ket-qua-dien-tu.pdf", content=document.content)
    draft = expect_status("SUB-01", portal.create(), 201, why="a draft of a valid e-form")
    for component in components_of(portal):
        if component is slot:
            added = portal.attach(draft["id"], slot["code"], signed)
            expect_status("SUB-04", added, 201, why="the signed e-result as a component")
        elif component.get("required"):
            added = portal.attach(draft["id"], component["code"], portal.document_for(component))
            expect_status("SUB-01", added, 201, why=f"component {component['code']}")
    answer = portal.submit(draft["id"])
    body = expect_status(
        "SUB-04", answer, 200, why="a dossier with a signed e-result passes the automatic check"
    )
    expect(
        "SUB-04",
        body.get("status") == "submitted",
        "the dossier submitted, nothing more asked of the signed component",
        f"status {body.get('status')!r}",
        answer,
    )


def signature_slot(portal: Portal) -> tuple[str, dict[str, Any]]:
    """A configured procedure of the agency and its component that must be a signed PDF."""
    for code in dict.fromkeys(
        c for c in (portal.target.procedures.primary, portal.target.procedures.with_fee) if c
    ):
        if portal.agency not in portal.procedure(code).get("agencyCodes", []):
            continue
        for component in components_of(portal, code):
            accepted = component.get("mediaTypes") or []
            if component.get("signatureRequired") and "application/pdf" in accepted:
                return code, component
    pytest.skip("insufficient test data: no configured procedure asks for a signed PDF")


def submit_with(
    portal: Portal, procedure: str, slot: dict[str, Any], file: dict[str, str]
) -> tuple[httpx.Response, bool]:
    """Draft a dossier whose ``slot`` component is ``file``, the rest valid, and submit it.

    Returns the answer that decided, and whether it was addComponent's (a portal may refuse a
    bad signature when the file is attached) rather than submitDossier's.
    """
    draft = portal.draft(procedure=procedure, complete=False)
    for component in components_of(portal, procedure):
        if component is slot:
            added = portal.attach(draft["id"], slot["code"], file)
            if added.status_code != 201:
                return added, True
        elif component.get("required"):
            added = portal.attach(draft["id"], component["code"], portal.document_for(component))
            expect_status("SUB-01", added, 201, why=f"component {component['code']}")
    return portal.submit(draft["id"]), False


def expect_signature_refused(
    answer: httpx.Response, at_attach: bool, slot: dict[str, Any], why: str
) -> None:
    """A 422 that names the component (at submission) or the signature (at attachment)."""
    problem = expect_refused("SUB-05", answer, {422}, why=why)
    named = json.dumps(problem.get("errors", []), ensure_ascii=False)
    wanted = "/file" if at_attach else "/components"
    expect(
        "SUB-05",
        slot["code"] in named or wanted in named,
        f"a reason naming the component {slot['code']} (or its {wanted} pointer)",
        f"errors {named[:300]}",
        answer,
    )


@pytest.mark.requirement("SUB-05")
def test_submit_dossier_accepts_a_file_signed_by_a_trusted_signer(portal: Portal) -> None:
    """A component that must be signed, signed by a signer the target trusts, is received."""
    procedure, slot = signature_slot(portal)
    file = signed(upload("sample.pdf", file_name="to-khai-da-ky.pdf"), portal.signer)
    answer, at_attach = submit_with(portal, procedure, slot, file)
    where = "addComponent" if at_attach else "submitDossier"
    body = expect_status(
        "SUB-05",
        answer,
        200,
        why=f"{where}: a file signed by the configured signer (the sandbox CA's unless the "
        "configuration names another) satisfies signatureRequired",
    )
    expect(
        "SUB-05",
        body.get("status") == "submitted",
        "the dossier submitted",
        f"status {body.get('status')!r}",
        answer,
    )


@pytest.mark.requirement("SUB-05")
def test_submit_dossier_refuses_an_unsigned_file_where_a_signature_is_required(
    portal: Portal,
) -> None:
    """A file without a signature, for a component that must be signed, is refused."""
    procedure, slot = signature_slot(portal)
    answer, at_attach = submit_with(portal, procedure, slot, upload("sample.pdf"))
    expect_signature_refused(
        answer, at_attach, slot, f"component {slot['code']} must be digitally signed"
    )


FORGERIES = {
    "impostor": "signed by a signer whose CA only copies the trusted CA's name",
    "other-file": "a valid signature, but of another file",
}


@pytest.mark.requirement("SUB-05")
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_submit_dossier_refuses_a_file_whose_signature_is_not_valid(
    portal: Portal, forgery: str
) -> None:
    """A signature that does not chain to a trusted CA, or is of another file, is refused."""
    procedure, slot = signature_slot(portal)
    file = upload("sample.pdf")
    if forgery == "impostor":
        file = signed(file, impostor())
    else:
        file = signed(file, portal.signer, content=document_bytes("sample.pdf") + b"\n% khac\n")
    answer, at_attach = submit_with(portal, procedure, slot, file)
    expect_signature_refused(answer, at_attach, slot, f"a file {FORGERIES[forgery]}")


@pytest.mark.requirement("SUB-06")
def test_delete_dossier_removes_a_draft_but_keeps_a_submitted_dossier(portal: Portal) -> None:
    """A draft can be deleted; a submitted dossier cannot (409) and stays readable."""
    draft = expect_status("SUB-01", portal.create(), 201, why="a draft of a valid e-form")
    path = f"/dossiers/{draft['id']}"
    deleted = portal.call("DELETE", "dossiers", path, as_="applicantA")
    expect_status("SUB-06", deleted, 204, why="the owner deletes a draft")
    gone = portal.call("GET", "dossiers", path, as_="applicantA")
    expect_status("SUB-06", gone, 404, why="a deleted draft no longer exists")

    sent = portal.submitted()
    kept = portal.call("DELETE", "dossiers", f"/dossiers/{sent['id']}", as_="applicantA")
    expect_refused("SUB-06", kept, {409}, why="a submitted dossier is kept (Art. 17)")
    found = portal.call("GET", "dossiers", f"/dossiers/{sent['id']}", as_="applicantA")
    after = expect_status("SUB-06", found, 200, why="a submitted dossier stays readable")
    expect(
        "SUB-06",
        after.get("status") == sent.get("status") and after.get("code") == sent["code"],
        f"dossier {sent['code']} unchanged, status {sent.get('status')}",
        f"status {after.get('status')!r}, code {after.get('code')!r}",
        found,
    )
