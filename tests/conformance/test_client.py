"""The recording client: evidence kept, secrets never."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conformance.client import REDACTED, TargetClient, redact_fields, redact_url
from conformance.config import SANDBOX_SYSTEM, sandbox_target
from conformance.identities import TokenSource
from conformance.outcomes import HarnessError

TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
SECRET = SANDBOX_SYSTEM[1]  # a secret the configuration holds, so the client knows it


def answer(request: httpx.Request) -> httpx.Response:
    """Echo the request back, as a careless server might, secrets and all."""
    body = {
        "seen": request.headers.get("authorization"),
        "access_token": TOKEN,
        "note": f"client secret was {SECRET}",
    }
    return httpx.Response(200, json=body, headers={"Set-Cookie": "session=abc"})


@pytest.fixture
def client() -> TargetClient:
    config = sandbox_target("http://portal.test")
    tokens = {"applicantA": TokenSource("applicantA", lambda: (TOKEN, 3600.0))}
    made = TargetClient(config, tokens)
    made._http = httpx.Client(transport=httpx.MockTransport(answer))
    return made


def everything(client: TargetClient) -> str:
    return json.dumps([e.as_json() for e in client.recorder.exchanges])


def test_call_records_the_exchange_with_secrets_redacted(client: TargetClient) -> None:
    response = client.call(
        "POST",
        "identity",
        "/identity/token?code=one-time-code",
        as_="applicantA",
        data={"grant_type": "client_credentials", "client_secret": SECRET},
    )
    assert response.status_code == 200
    assert response.json()["access_token"] == TOKEN  # the suite still sees the real body
    exchange = client.recorder.exchanges[-1]
    assert exchange.request.headers["authorization"] == f"Bearer {REDACTED}"
    assert exchange.request.body["client_secret"] == REDACTED
    assert exchange.request.body["grant_type"] == "client_credentials"
    assert exchange.response is not None
    assert exchange.response.body["access_token"] == REDACTED
    assert exchange.response.headers["set-cookie"] == REDACTED
    assert "code=%2A%2A%2A" in exchange.request.url or "code=***" in exchange.request.url
    text = everything(client)
    for secret in (TOKEN, SECRET, "one-time-code"):
        assert secret not in text


def test_call_turns_a_transport_failure_into_a_harness_error(client: TargetClient) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client._http = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(HarnessError, match="failed before an answer came"):
        client.call("GET", "catalogue", "/procedures")


def test_unknown_identity_is_a_harness_error(client: TargetClient) -> None:
    with pytest.raises(HarnessError, match="no identity 'officer'"):
        client.call("GET", "dossiers", "/dossiers", as_="officer")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"password": "x", "name": "An"}, {"password": REDACTED, "name": "An"}),
        ([{"id_token": "t"}], [{"id_token": REDACTED}]),
        ({"code": "1.001193"}, {"code": "1.001193"}),  # a procedure code is evidence, not a secret
    ],
)
def test_redact_fields(body: Any, expected: Any) -> None:
    assert redact_fields(body) == expected


def test_redact_url_keeps_harmless_parameters() -> None:
    url = redact_url("https://idp.test/authorize?client_id=c&code=abc&state=s")
    assert "client_id=c" in url
    assert "state=s" in url
    assert "abc" not in url
