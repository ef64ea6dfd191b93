"""The dossier lifecycle over HTTP, exhaustively: every status × every action.

For each status a fresh dossier is driven into it through the API; each action of the
lifecycle is then tried on it. The allowed moves answer 200 with the new status (and its NPSP
number); every other move answers 409 with a problem that names the current status, and
leaves the dossier as it was. The expected table is written here from
docs/contract-conventions.md ("Dossier lifecycle"), independently of reference_impl.lifecycle.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from egov_contract import fixtures_dir

from .conftest import Server, make_server

APPLICANT = "079190012345"
OFFICER = "canbo.h22.honghai.01"
PROCEDURE = "1.001193"
AGENCY = "000.00.01.H22"

STATUSES = (
    "draft",
    "submitted",
    "received",
    "refused",
    "in-process",
    "supplement-requested",
    "fee-requested",
    "withdrawal-requested",
    "stopped",
    "processed",
    "returned",
)
NPSP_NUMBERS = {status: number for number, status in enumerate(STATUSES) if number}

# Conventions, "Dossier lifecycle": operation → from → to. Every other pair is 409.
EXPECTED: dict[tuple[str, str], str] = {
    ("submitted", "draft"): "submitDossier",
    ("received", "submitted"): "acceptDossier",
    ("refused", "submitted"): "refuseDossier",
    ("refused", "received"): "refuseDossier",
    ("supplement-requested", "submitted"): "requestSupplement",
    ("supplement-requested", "received"): "requestSupplement",
    ("supplement-requested", "in-process"): "requestSupplement",
    # The supplement here was asked from `submitted`, so it returns to `received`.
    ("received", "supplement-requested"): "submitSupplement",
    ("in-process", "received"): "startProcessing",
    ("fee-requested", "in-process"): "issueFeeNotice",
    ("withdrawal-requested", "submitted"): "requestWithdrawal",
    ("withdrawal-requested", "received"): "requestWithdrawal",
    ("withdrawal-requested", "in-process"): "requestWithdrawal",
    ("withdrawal-requested", "supplement-requested"): "requestWithdrawal",
    ("withdrawal-requested", "fee-requested"): "requestWithdrawal",
    ("stopped", "withdrawal-requested"): "stopProcessing",
    ("stopped", "in-process"): "stopProcessing",
    ("processed", "in-process"): "resolveDossier",
    ("returned", "processed"): "deliverResult",
}
ALLOWED = {(action, source): target for (target, source), action in EXPECTED.items()}

REASON = "Hồ sơ cần được xem xét lại theo quy định hiện hành."


def _document(name: str) -> str:
    return base64.b64encode((fixtures_dir() / "documents" / name).read_bytes()).decode()


# action → (path suffix, who calls it, body)
ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "submitDossier": ("submission", APPLICANT, None),
    "acceptDossier": ("acceptance", OFFICER, {}),
    "refuseDossier": ("refusal", OFFICER, {"reason": REASON}),
    "requestSupplement": (
        "supplement-request",
        OFFICER,
        {"reason": "Bản chụp giấy chứng sinh bị mờ, đề nghị nộp lại.", "componentCodes": ["GCS"]},
    ),
    "submitSupplement": (
        "supplement",
        APPLICANT,
        {
            "components": [
                {
                    "componentCode": "GCS",
                    "file": {
                        "fileName": "giay-chung-sinh-ban-ro.jpg",
                        "mediaType": "image/jpeg",
                        "contentBase64": _document("sample.jpg"),
                    },
                }
            ],
            "note": "Đã chụp lại giấy chứng sinh rõ nét.",
        },
    ),
    "startProcessing": ("processing", OFFICER, None),
    "issueFeeNotice": (
        "fee-notice",
        OFFICER,
        {"fees": [{"code": "BSTL", "name": "Phí cấp bản sao trích lục", "amount": 8000}]},
    ),
    "requestWithdrawal": ("withdrawal", APPLICANT, {"reason": REASON}),
    "stopProcessing": ("stop", OFFICER, {"reason": REASON}),
    "resolveDossier": ("resolution", OFFICER, {"title": "Giấy khai sinh"}),
    "deliverResult": ("delivery", OFFICER, {"channel": "electronic"}),
}

# How to reach each status from a fresh draft.
ROUTES: dict[str, tuple[str, ...]] = {
    "draft": (),
    "submitted": ("submitDossier",),
    "received": ("submitDossier", "acceptDossier"),
    "refused": ("submitDossier", "refuseDossier"),
    "in-process": ("submitDossier", "acceptDossier", "startProcessing"),
    "supplement-requested": ("submitDossier", "requestSupplement"),
    "fee-requested": ("submitDossier", "acceptDossier", "startProcessing", "issueFeeNotice"),
    "withdrawal-requested": ("submitDossier", "requestWithdrawal"),
    "stopped": ("submitDossier", "acceptDossier", "startProcessing", "stopProcessing"),
    "processed": ("submitDossier", "acceptDossier", "startProcessing", "resolveDossier"),
    "returned": (
        "submitDossier",
        "acceptDossier",
        "startProcessing",
        "resolveDossier",
        "deliverResult",
    ),
}


class Dossiers:
    """Makes dossiers in any status through the API, on one server shared by the module."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.form = json.loads(
            (Path(fixtures_dir()) / "forms" / f"{PROCEDURE}.sample.json").read_text("utf-8")
        )
        self.pdf = _document("sample.pdf")

    def act(self, dossier_id: str, action: str) -> Any:
        suffix, who, body = ACTIONS[action]
        path = f"/dossiers/{dossier_id}/{suffix}"
        if body is None:
            return self.server.call("POST", path, who=who)
        return self.server.call("POST", path, who=who, json=body)

    def make(self, status: str) -> dict[str, Any]:
        created = self.server.call(
            "POST",
            "/dossiers",
            who=APPLICANT,
            json={"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": self.form},
        )
        assert created.status_code == 201, created.text
        dossier = created.json()
        for code in ("TKKS", "GCS"):
            upload = {"fileName": f"{code.lower()}.pdf", "mediaType": "application/pdf"}
            added = self.server.call(
                "POST",
                f"/dossiers/{dossier['id']}/components",
                who=APPLICANT,
                json={"componentCode": code, "file": {**upload, "contentBase64": self.pdf}},
            )
            assert added.status_code == 201, added.text
        for action in ROUTES[status]:
            moved = self.act(dossier["id"], action)
            assert moved.status_code == 200, f"{action}: {moved.text}"
            dossier = moved.json()
        if not ROUTES[status]:
            dossier = self.read(dossier["id"])
        assert dossier["status"] == status
        return dossier

    def read(self, dossier_id: str) -> dict[str, Any]:
        found = self.server.call("GET", f"/dossiers/{dossier_id}", who=APPLICANT)
        assert found.status_code == 200, found.text
        return dict(found.json())


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dossiers]:
    for server in make_server(tmp_path_factory.mktemp("state-machine")):
        yield Dossiers(server)


def test_expected_table_covers_every_lifecycle_move() -> None:
    """The table above names 19 moves, one per arrow of the conventions' lifecycle."""
    assert len(ALLOWED) == 19
    assert {action for action, _ in ALLOWED} == set(ACTIONS)
    assert all(source in STATUSES and target in STATUSES for (_, source), target in ALLOWED.items())


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("status", STATUSES)
def test_every_action_in_every_status(factory: Dossiers, status: str, action: str) -> None:
    """An allowed move reaches its status; any other is 409 naming the current status."""
    dossier = factory.make(status)
    answer = factory.act(dossier["id"], action)
    expected = ALLOWED.get((action, status))
    if expected is not None:
        assert answer.status_code == 200, answer.text
        moved = answer.json()
        assert moved["status"] == expected
        assert moved["statusCode"] == NPSP_NUMBERS[expected]
        assert moved["code"] == dossier["code"] or status == "draft"
        assert moved["version"] > dossier["version"]
        assert answer.headers["ETag"] == f'"{moved["version"]}"'
        return
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 409
    assert repr(status) in problem["detail"]
    assert action in problem["detail"]
    assert problem["currentStatus"] == status
    unchanged = factory.read(dossier["id"])
    assert unchanged["status"] == status
    assert unchanged["version"] == dossier["version"]
