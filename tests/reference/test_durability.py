"""What the server acknowledged survives a crash: SIGKILL, restart, and it is all there once.

Runs the server as a separate process on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from egov_contract import fixtures_dir, load_document

from .live import LiveServer, sign_in
from .pg import postgres_url

pytestmark = pytest.mark.slow

CITIZEN = "001203012345"
OFFICER = "canbo.h22.honghai.01"
PROCEDURE = "1.001193"
AGENCY = "000.00.01.H22"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'durable.sqlite3'}"
    return postgres_url(request)


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(db_url, tmp_path / "server.log").start()
    yield live
    live.stop()


class Portal:
    """Just enough of a client to take a dossier through the procedure."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.headers = {
            "applicant": {"Authorization": f"Bearer {sign_in(base_url, CITIZEN)}"},
            "officer": {"Authorization": f"Bearer {sign_in(base_url, OFFICER)}"},
        }

    def call(self, who: str | None, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**(self.headers[who] if who else {}), **kwargs.pop("headers", {})}
        answer = httpx.request(method, self.base_url + path, headers=headers, timeout=20, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None


def _upload(name: str) -> dict[str, str]:
    content = (fixtures_dir() / "documents" / name).read_bytes()
    return {
        "fileName": name,
        "mediaType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
    }


def _acknowledged(portal: Portal) -> dict[str, Any]:
    """A dossier submitted, accepted, paid for and resolved; what each step acknowledged."""
    form = load_document(fixtures_dir() / "forms" / f"{PROCEDURE}.sample.json")
    body = {"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": form}
    dossier = portal.call("applicant", "POST", "/dossiers", json=body)
    path = f"/dossiers/{dossier['id']}"
    for code in ("TKKS", "GCS"):
        portal.call(
            "applicant",
            "POST",
            f"{path}/components",
            json={"componentCode": code, "file": _upload("sample.pdf")},
        )
    submitted = portal.call("applicant", "POST", f"{path}/submission")
    portal.call("officer", "POST", f"{path}/acceptance", json={})
    portal.call("officer", "POST", f"{path}/processing", json={})
    fee = {"code": "LEPHI", "name": "Lệ phí cấp bản sao trích lục", "amount": 8000}
    portal.call("officer", "POST", f"{path}/fee-notice", json={"fees": [fee]})
    unpaid = portal.call("applicant", "GET", f"{path}/fees")["items"]
    payment = portal.call(
        "applicant",
        "POST",
        "/payments",
        json={"obligationIds": [item["id"] for item in unpaid]},
        headers={"Idempotency-Key": f"durable-{dossier['id']}"},
    )
    portal.call(
        None,
        "POST",
        f"/platform/payment-requests/{payment['transactionId']}/payer-confirmation",
        json={"outcome": "succeeded", "payerName": "Nguyễn Văn An"},
    )
    resolved = portal.call(
        "officer", "POST", f"{path}/resolution", json={"title": "Giấy khai sinh"}
    )
    return {
        "dossier": portal.call("applicant", "GET", path),
        "code": submitted["code"],
        "payment": portal.call("applicant", "GET", f"/payments/{payment['id']}"),
        "result": portal.call("applicant", "GET", f"/results/{resolved['resultCodes'][0]}"),
    }


def test_acknowledged_dossier_payment_and_result_survive_sigkill(server: LiveServer) -> None:
    portal = Portal(server.base_url)
    before = _acknowledged(portal)
    assert before["payment"]["status"] == "succeeded"
    assert before["dossier"]["status"] == "processed"

    server.kill()
    server.start()

    path = f"/dossiers/{before['dossier']['id']}"
    after = portal.call("applicant", "GET", path)  # the old token: keys survived too
    assert after == before["dossier"]
    mine = portal.call("applicant", "GET", "/dossiers")["items"]
    assert [d["code"] for d in mine] == [before["code"]]
    assert (
        portal.call("applicant", "GET", f"/payments/{before['payment']['id']}")
        == (before["payment"])
    )
    assert portal.call("applicant", "GET", f"/payments/{before['payment']['id']}/receipt")
    ledger = portal.call("officer", "GET", "/payments")["items"]
    assert [p["reference"] for p in ledger] == [before["payment"]["reference"]]
    result = portal.call("applicant", "GET", f"/results/{before['result']['code']}")
    assert result == before["result"]
    verified = portal.call(None, "GET", f"/verification/{result['verificationCode']}")
    assert verified["valid"] is True
    assert verified["integrity"] == "intact"


def test_codes_continue_after_a_restart_without_reuse(server: LiveServer) -> None:
    portal = Portal(server.base_url)
    first = _acknowledged(portal)["code"]
    server.kill()
    server.start()
    second = _acknowledged(Portal(server.base_url))["code"]
    first_day, first_number = first.rsplit("-", 1)
    second_day, second_number = second.rsplit("-", 1)
    if first_day == second_day:
        assert int(second_number) == int(first_number) + 1
    else:  # the run crossed midnight: a new day starts again at 0001
        assert second_number == "0001"
