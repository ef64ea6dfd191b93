"""Supplements (Decree 45/2020/ND-CP Art. 12; Decree 137/2024/ND-CP Art. 7(1)(a)).

An officer asks for a supplement with a reason and the components concerned; the applicant
supplements online and the dossier returns to where it was asked from; the dossier code never
changes; the history keeps what was replaced; outside a supplement request a submitted dossier
cannot be edited.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_refused, expect_status
from conformance.scenario import REASON, Portal, document_bytes, file_for, sample_form, upload

HISTORY_PAGES = 10
"""Pages of history read at most: far more than a test's dossier ever has."""


def asked_component(portal: Portal) -> dict[str, Any]:
    """A required component of the primary procedure that takes two kinds of file, if any.

    A component accepting more than one type lets the supplement send a file that differs from
    the first one in bytes, so that before and after can be told apart in the history.
    """
    required = [c for c in portal.procedure().get("components", []) if c.get("required")]
    if not required:
        pytest.skip("insufficient test data: the primary procedure has no required component")
    return max(required, key=lambda c: len(c.get("mediaTypes") or []))


def replacement_for(component: dict[str, Any], current: dict[str, Any]) -> dict[str, str]:
    """A file for ``component`` whose bytes differ from the ``current`` component's."""
    accepted = component.get("mediaTypes") or ["application/pdf"]
    for name, media in (
        ("sample.png", "image/png"),
        ("sample.jpg", "image/jpeg"),
        ("sample.pdf", "application/pdf"),
    ):
        digest = hashlib.sha256(document_bytes(name)).hexdigest()
        if media in accepted and digest != (current.get("file") or {}).get("sha256"):
            return upload(name, file_name=f"bo-sung-{name}")
    # Only one type accepted and it is what is there: the same type with other bytes.
    content = document_bytes(file_for(component)) + b"\n% bo sung\n"
    return upload(file_for(component), file_name="bo-sung.pdf", content=content)


def ask(portal: Portal, dossier_id: str, codes: list[str], reason: str = REASON) -> dict[str, Any]:
    """The officer's supplement request, which must succeed."""
    body = {"reason": reason, "componentCodes": codes}
    return portal.step("SUP-01", dossier_id, "supplement-request", body)


def current_component(dossier: dict[str, Any], code: str) -> dict[str, Any]:
    """The dossier's current component of ``code`` (empty when it has none)."""
    found = [c for c in dossier.get("components", []) if c.get("componentCode") == code]
    return found[-1] if found else {}


def supplement(
    portal: Portal, dossier: dict[str, Any], component: dict[str, Any]
) -> tuple[httpx.Response, dict[str, str]]:
    """The applicant's supplement replacing ``component``: the answer and the file sent."""
    file = replacement_for(component, current_component(dossier, component["code"]))
    body = {
        "components": [{"componentCode": component["code"], "file": file}],
        "note": "Đã bổ sung thành phần hồ sơ theo yêu cầu.",
    }
    return portal.act(dossier["id"], "supplement", body, as_="applicantA"), file


def history(portal: Portal, dossier_id: str, requirement: str) -> list[dict[str, Any]]:
    """Every entry of the dossier's history, page after page (bounded)."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    for _ in range(HISTORY_PAGES):
        answer = portal.call(
            "GET", "dossiers", f"/dossiers/{dossier_id}/history", as_="applicantA", params=params
        )
        page = expect_status(requirement, answer, 200, why="the owner reads the history")
        entries += [e for e in (page or {}).get("items", []) if isinstance(e, dict)]
        if not (page or {}).get("nextCursor"):
            break
        params = {**params, "cursor": page["nextCursor"]}
    return entries


# ---- SUP-01: the request -------------------------------------------------------------------


@pytest.mark.requirement("SUP-01")
def test_request_supplement_needs_a_reason_and_the_components_concerned(portal: Portal) -> None:
    """A supplement request without a reason or without components is rejected; both are shown."""
    component = asked_component(portal)
    dossier = portal.submitted()
    for body in (
        {"componentCodes": [component["code"]]},
        {"reason": REASON},
        {"reason": " " * 12, "componentCodes": [component["code"]]},
    ):
        answer = portal.act(dossier["id"], "supplement-request", body)
        expect_refused("SUP-01", answer, {400, 422}, why=f"a supplement request {body}")
        after = portal.get(dossier["id"])
        expect(
            "SUP-01",
            after.get("status") == "submitted" and after.get("version") == dossier.get("version"),
            f"the dossier unchanged by the rejected request {body}",
            f"status {after.get('status')!r}, version {after.get('version')!r}",
            answer,
        )
    asked = ask(portal, dossier["id"], [component["code"]])
    seen = portal.get(dossier["id"])
    request = seen.get("supplementRequest") or {}
    expect(
        "SUP-01",
        seen.get("status") == "supplement-requested"
        and request.get("reason") == REASON
        and request.get("componentCodes") == [component["code"]],
        f"the applicant sees status supplement-requested, the reason and [{component['code']}]",
        f"status {seen.get('status')!r}, supplementRequest "
        f"{json.dumps(request, ensure_ascii=False)}",
    )
    expect(
        "SUP-01",
        asked.get("code") == dossier["code"],
        "the same dossier code",
        f"code {asked.get('code')!r}",
    )


# ---- SUP-02: the applicant supplements -----------------------------------------------------


@pytest.mark.requirement("SUP-02")
def test_submit_supplement_asked_at_reception_returns_the_dossier_to_received(
    portal: Portal,
) -> None:
    """Asked before processing: the applicant replaces the component and the dossier is received."""
    component = asked_component(portal)
    dossier = portal.submitted()
    old = current_component(dossier, component["code"])
    ask(portal, dossier["id"], [component["code"]])
    # Every component the request named must be sent: a form alone is refused, nothing changes.
    incomplete = portal.act(
        dossier["id"],
        "supplement",
        {"form": sample_form(dossier["procedureCode"])},
        as_="applicantA",
    )
    expect_refused(
        "SUP-02",
        incomplete,
        {422},
        why=f"the supplement leaves out {component['code']}, which was asked for",
    )
    still = portal.get(dossier["id"])
    expect(
        "SUP-02",
        still.get("status") == "supplement-requested",
        "a refused supplement changes nothing",
        f"status {still.get('status')!r}",
        incomplete,
    )
    answer, _ = supplement(portal, still, component)
    body = expect_status("SUP-02", answer, 200, why="the supplement the officer asked for")
    new = current_component(body, component["code"])
    expect(
        "SUP-02",
        body.get("status") == "received",
        "a supplement asked at reception returns the dossier to received",
        f"status {body.get('status')!r}",
        answer,
    )
    expect(
        "SUP-02",
        bool(new) and new.get("id") != old.get("id") and new.get("supersedes") == old.get("id"),
        f"a new {component['code']} that names the replaced one ({old.get('id')}) in supersedes",
        f"{json.dumps(new, ensure_ascii=False)[:300]}",
        answer,
    )


@pytest.mark.requirement("SUP-02")
def test_submit_supplement_asked_in_processing_returns_the_dossier_to_in_process(
    portal: Portal,
) -> None:
    """Asked during processing: after the supplement the dossier is in process again."""
    component = asked_component(portal)
    dossier = portal.in_process()
    ask(portal, dossier["id"], [component["code"]])
    answer, _ = supplement(portal, portal.get(dossier["id"]), component)
    body = expect_status("SUP-02", answer, 200, why="the supplement the officer asked for")
    expect(
        "SUP-02",
        body.get("status") == "in-process",
        "a supplement asked in processing returns the dossier to in-process",
        f"status {body.get('status')!r}",
        answer,
    )
    seen = portal.get(dossier["id"])
    expect(
        "SUP-02",
        seen.get("status") == "in-process",
        "getDossier shows it in process",
        f"status {seen.get('status')!r}",
    )


# ---- SUP-03 and SUP-04: the code and the history -------------------------------------------


@pytest.mark.requirement("SUP-03")
def test_submit_supplement_keeps_the_dossier_code_through_every_round(portal: Portal) -> None:
    """The dossier keeps its code through two supplements, asked before and during processing."""
    component = asked_component(portal)
    dossier = portal.submitted()
    code = dossier["code"]
    for round_ in range(2):
        if round_:
            portal.step("LIF-02", dossier["id"], "processing", {})
        ask(portal, dossier["id"], [component["code"]])
        answer, _ = supplement(portal, portal.get(dossier["id"]), component)
        body = expect_status("SUP-02", answer, 200, why="the supplement the officer asked for")
        expect(
            "SUP-03",
            body.get("code") == code,
            f"the dossier code {code} unchanged",
            f"code {body.get('code')!r} after supplement {round_ + 1}",
            answer,
        )
        seen = portal.get(dossier["id"])
        expect(
            "SUP-03",
            seen.get("code") == code,
            f"getDossier shows the code {code}",
            f"code {seen.get('code')!r}",
        )


@pytest.mark.requirement("SUP-04")
def test_get_dossier_history_keeps_what_a_supplement_replaced(portal: Portal) -> None:
    """The history records the supplement's change with its time; the replaced file stays."""
    component = asked_component(portal)
    dossier = portal.submitted()
    old = current_component(dossier, component["code"])
    ask(portal, dossier["id"], [component["code"]])
    answer, file = supplement(portal, portal.get(dossier["id"]), component)
    expect_status("SUP-02", answer, 200, why="the supplement the officer asked for")
    before = (old.get("file") or {}).get("sha256")
    after = hashlib.sha256(base64.b64decode(file["contentBase64"])).hexdigest()
    entries = history(portal, dossier["id"], "SUP-04")
    changes = [
        (entry, change)
        for entry in entries
        for change in entry.get("changes") or []
        if isinstance(change, dict)
    ]
    found = [
        (e, c)
        for e, c in changes
        if c.get("componentCode") == component["code"]
        and c.get("before") == before
        and c.get("after") == after
    ]
    expect(
        "SUP-04",
        bool(found),
        f"a history entry of the supplement: {component['code']} before {before}, after {after}",
        f"entries {json.dumps(entries, ensure_ascii=False)[:600]}",
    )
    entry = found[0][0]
    expect(
        "SUP-04",
        isinstance(entry.get("at"), str) and bool(entry.get("at")),
        "the entry's time (at)",
        f"at {entry.get('at')!r}",
    )
    kept = portal.call(
        "GET",
        "dossiers",
        f"/dossiers/{dossier['id']}/components/{old.get('id')}/content",
        as_="applicantA",
    )
    expect_status("SUP-04", kept, 200, why="a replaced component stays downloadable by its id")
    expect(
        "SUP-04",
        hashlib.sha256(kept.content).hexdigest() == before,
        f"the replaced file's bytes (SHA-256 {before})",
        f"bytes with SHA-256 {hashlib.sha256(kept.content).hexdigest()}",
        kept,
    )


# ---- SUP-05: no edits outside a supplement request -----------------------------------------


@pytest.mark.requirement("SUP-05")
def test_update_dossier_refuses_changes_to_a_submitted_dossier_outside_a_supplement(
    portal: Portal,
) -> None:
    """Form and component changes to a submitted or received dossier are 409 and change nothing."""
    component = asked_component(portal)
    for dossier in (portal.submitted(), portal.received()):
        path = f"/dossiers/{dossier['id']}"
        held = current_component(dossier, component["code"])
        attempts: tuple[tuple[str, str, str, dict[str, Any] | None], ...] = (
            ("updateDossier", "PATCH", path, {"form": {}}),
            (
                "addComponent",
                "POST",
                f"{path}/components",
                {"componentCode": component["code"], "file": portal.document_for(component)},
            ),
            ("removeComponent", "DELETE", f"{path}/components/{held.get('id')}", None),
        )
        for operation, method, where, body in attempts:
            kwargs: dict[str, Any] = {} if body is None else {"json": body}
            answer = portal.call(method, "dossiers", where, as_="applicantA", **kwargs)
            expect_refused(
                "SUP-05",
                answer,
                {409},
                why=f"{operation} on a {dossier['status']} dossier, no supplement asked",
            )
            after = portal.get(dossier["id"])
            expect(
                "SUP-05",
                after.get("version") == dossier.get("version")
                and after.get("form") == dossier.get("form")
                and [c.get("id") for c in after.get("components", [])]
                == [c.get("id") for c in dossier.get("components", [])],
                f"the {dossier['status']} dossier unchanged by {operation}",
                f"version {after.get('version')} (was {dossier.get('version')})",
                answer,
            )
