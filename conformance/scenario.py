"""The steps of a citizen's procedure, as the suites take them against any target.

`Portal` walks a dossier through the lifecycle of docs/contract-conventions.md with the test
identities of the configuration. Every step checks its own outcome against the requirement it
belongs to, so when a step that is only a precondition of a test fails, the failure names the
step's requirement and the report shows the test as stopped by it, not as a failure of its own.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

import httpx
import pytest

from egov_contract import fixtures_dir

from .checks import expect, expect_status
from .client import TargetClient
from .config import TargetConfig
from .signatures import Signer, signed, signer_of

MEDIA_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}
REASON = "Bản chụp giấy tờ bị mờ, không đọc được số giấy; đề nghị nộp lại bản rõ hơn."


@cache
def document_bytes(name: str) -> bytes:
    """A sample document of fixtures/documents."""
    return (fixtures_dir() / "documents" / name).read_bytes()


def upload(
    name: str = "sample.pdf",
    *,
    file_name: str | None = None,
    media_type: str | None = None,
    content: bytes | None = None,
) -> dict[str, str]:
    """A component file as an inline (base64) upload."""
    data = document_bytes(name) if content is None else content
    return {
        "fileName": name if file_name is None else file_name,
        "mediaType": media_type or MEDIA_TYPES[name.rsplit(".", 1)[-1]],
        "contentBase64": base64.b64encode(data).decode(),
    }


def sample_form(procedure: str) -> dict[str, Any]:
    """The kit's sample e-form for ``procedure``; a skip when the kit has none for it."""
    path = fixtures_dir() / "forms" / f"{procedure}.sample.json"
    if not path.is_file():
        pytest.skip(f"insufficient test data: the kit has no sample e-form for {procedure}")
    return dict(json.loads(path.read_text("utf-8")))


def file_for(component: dict[str, Any]) -> str:
    """A fixture document whose type the component accepts."""
    accepted = component.get("mediaTypes") or ["application/pdf"]
    for name, media in (
        ("sample.pdf", "application/pdf"),
        ("sample.png", "image/png"),
        ("sample.jpg", "image/jpeg"),
    ):
        if media in accepted:
            return name
    pytest.skip(f"insufficient test data: no sample document of type {accepted[0]}")


class Portal:
    """A dossier's procedure through the target's interfaces."""

    def __init__(self, client: TargetClient, target: TargetConfig) -> None:
        self.client = client
        self.target = target
        self._procedures: dict[str, dict[str, Any]] = {}

    @property
    def signer(self) -> Signer:
        """Who signs the files of components that must be signed."""
        return signer_of(self.target)

    def document_for(self, component: dict[str, Any], **options: Any) -> dict[str, str]:
        """A sample file the component accepts, signed when the procedure wants it signed.

        ``options`` are those of `upload` (another file name, other content).
        """
        file = upload(file_for(component), **options)
        return signed(file, self.signer) if component.get("signatureRequired") else file

    @property
    def agency(self) -> str:
        """The receiving agency of the configuration."""
        return self.target.procedures.agency_code

    def call(self, method: str, interface: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request through the recording client."""
        return self.client.call(method, interface, path, **kwargs)

    def procedure(self, code: str | None = None) -> dict[str, Any]:
        """The catalogue entry of ``code`` (default: the primary procedure)."""
        code = code or self.target.procedures.primary
        if code not in self._procedures:
            found = self.call("GET", "catalogue", f"/procedures/{code}")
            body = expect_status("CAT-01", found, 200, why=f"procedure {code} of the config")
            self._procedures[code] = body
        return self._procedures[code]

    # ---- applicant ---------------------------------------------------------------------------

    def register(self, as_: str = "applicantA", requirement: str = "ACC-01") -> None:
        """Make sure ``as_`` has a portal account; notifications go to an account."""
        answer = self.call("POST", "identity", "/accounts", as_=as_, json={})
        expect_status(requirement, answer, 200, 201, why=f"{as_} registers (again: harmless)")

    def create(
        self, as_: str = "applicantA", procedure: str | None = None, **body: Any
    ) -> httpx.Response:
        """``createDossier`` as ``as_``; fields of ``body`` replace the defaults."""
        code = procedure or self.target.procedures.primary
        payload = {"procedureCode": code, "agencyCode": self.agency, "form": sample_form(code)}
        payload.update(body)
        return self.call("POST", "dossiers", "/dossiers", as_=as_, json=payload)

    def attach(
        self,
        dossier_id: str,
        code: str,
        file: dict[str, Any] | None = None,
        as_: str = "applicantA",
    ) -> httpx.Response:
        """``addComponent``: an inline file for component ``code``."""
        body = {"componentCode": code, "file": file or upload()}
        return self.call(
            "POST", "dossiers", f"/dossiers/{dossier_id}/components", as_=as_, json=body
        )

    def draft(
        self,
        as_: str = "applicantA",
        procedure: str | None = None,
        complete: bool = True,
        **body: Any,
    ) -> dict[str, Any]:
        """A draft; with every required component when ``complete``.

        ``body`` replaces fields of the default createDossier body (another ``agencyCode``).
        """
        created = self.create(as_, procedure, **body)
        dossier = expect_status("SUB-01", created, 201, why="a draft of a valid e-form")
        if complete:
            for component in self.procedure(procedure).get("components", []):
                if component.get("required"):
                    added = self.attach(
                        dossier["id"], component["code"], self.document_for(component), as_
                    )
                    expect_status("SUB-01", added, 201, why=f"component {component['code']}")
        return self.get(dossier["id"], as_)

    def get(self, dossier_id: str, as_: str = "applicantA") -> dict[str, Any]:
        """``getDossier``: the dossier as ``as_`` sees it."""
        found = self.call("GET", "dossiers", f"/dossiers/{dossier_id}", as_=as_)
        body: dict[str, Any] = expect_status("SUB-01", found, 200, why="reading one's own dossier")
        return body

    def submit(self, dossier_id: str, as_: str = "applicantA") -> httpx.Response:
        """``submitDossier``."""
        return self.call("POST", "dossiers", f"/dossiers/{dossier_id}/submission", as_=as_)

    def submitted(self, as_: str = "applicantA", procedure: str | None = None) -> dict[str, Any]:
        """A dossier that passed the automatic check (status 1)."""
        dossier = self.draft(as_, procedure)
        answer = self.submit(dossier["id"], as_)
        body: dict[str, Any] = expect_status(
            "RCV-03", answer, 200, 201, 202, why="a complete, valid dossier is received"
        )
        expect(
            "RCV-03",
            body.get("status") == "submitted" or body.get("statusCode") == 1,
            "status submitted (1) after the automatic check",
            f"status {body.get('status')!r}",
            answer,
        )
        return body

    # ---- officer -----------------------------------------------------------------------------

    def act(
        self, dossier_id: str, action: str, body: Any = None, as_: str = "officer"
    ) -> httpx.Response:
        """An action on a dossier (``acceptance``, ``refusal``, ``processing``…)."""
        kwargs: dict[str, Any] = {"json": body if body is not None else {}}
        return self.call("POST", "dossiers", f"/dossiers/{dossier_id}/{action}", as_=as_, **kwargs)

    def step(
        self, requirement: str, dossier_id: str, action: str, body: Any = None, as_: str = "officer"
    ) -> dict[str, Any]:
        """An action that must succeed; its failure names ``requirement``."""
        answer = self.act(dossier_id, action, body, as_)
        result: dict[str, Any] = expect_status(
            requirement, answer, 200, 201, why=f"{action} allowed here"
        )
        return result

    def received(self, as_: str = "applicantA", procedure: str | None = None) -> dict[str, Any]:
        """A dossier the officer accepted (status 2)."""
        dossier = self.submitted(as_, procedure)
        return self.step("RCV-06", dossier["id"], "acceptance", {})

    def in_process(self, as_: str = "applicantA", procedure: str | None = None) -> dict[str, Any]:
        """A dossier being processed (status 4)."""
        dossier = self.received(as_, procedure)
        return self.step("LIF-02", dossier["id"], "processing", {})

    def resolved(self, as_: str = "applicantA", procedure: str | None = None) -> dict[str, Any]:
        """A processed dossier with its signed e-result (status 9)."""
        dossier = self.in_process(as_, procedure)
        body = {"title": "Giấy khai sinh", "summary": "Kết quả giải quyết hồ sơ (kiểm thử)."}
        return self.step("RES-01", dossier["id"], "resolution", body)
