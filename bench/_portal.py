"""Acting as a citizen on the portal: signing in, the ~2 KB e-form, drafts ready to submit."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from egov_contract import fixtures_dir, load_document

from ._wrk import BenchError

CITIZEN = "001203012345"
PROCEDURE = "1.001193"
AGENCY = "000.00.01.H22"
HARNESS_CLIENT = "conformance-harness"
REDIRECT_URI = "http://127.0.0.1/callback"
FORM_BYTES = 2048


def sign_in(base_url: str, login_hint: str = CITIZEN) -> str:
    """An access token for a fixture subject, through the OIDC code flow with PKCE."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": HARNESS_CLIENT,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
        "login_hint": login_hint,
    }
    answer = httpx.get(f"{base_url}/identity/authorize", params=query, timeout=10)
    if answer.status_code != 302:
        raise BenchError(f"sign-in refused: {answer.status_code} {answer.text[:300]}")
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    token = httpx.post(
        f"{base_url}/identity/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": HARNESS_CLIENT,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    if token.status_code != 200:
        raise BenchError(f"token refused: {token.status_code} {token.text[:300]}")
    return str(token.json()["access_token"])


def large_form() -> dict[str, Any]:
    """The birth-registration sample e-form, grown to about 2 KB with valid long values."""
    form: dict[str, Any] = json.loads(
        json.dumps(load_document(fixtures_dir() / "forms" / f"{PROCEDURE}.sample.json"))
    )
    form["father"] = {
        "dateOfBirth": "1988-04-21",
        "fullName": "Trần Văn Hùng",
        "personalId": "079088012345",
    }
    address = "Khu phố 3, phường Bến Thành, Quận 1, Thành phố Hồ Chí Minh, Việt Nam. "
    # Addresses and names grow within their maxLength (500 and 200) until the form is ~2 KB.
    grow = [("child", "placeOfBirth", 500), ("requester", "fullName", 200)]
    grow += [("mother", "fullName", 200), ("father", "fullName", 200)]
    grow += [("child", "fullName", 200), ("child", "ethnicity", 200)]
    for block, key, limit in grow:
        while len(_encoded(form)) < FORM_BYTES and len(form[block][key]) + 8 <= limit:
            form[block][key] += " " + (address if key == "placeOfBirth" else "Nguyễn")
            form[block][key] = form[block][key][:limit].rstrip()
    return form


def _encoded(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _upload() -> dict[str, str]:
    content = (fixtures_dir() / "documents" / "sample.pdf").read_bytes()
    return {
        "fileName": "sample.pdf",
        "mediaType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
    }


class Portal:
    """A citizen's session on one server."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token or sign_in(base_url)
        self.form = large_form()

    def _call(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        answer = client.request(method, self.base_url + path, headers=headers, **kwargs)
        if answer.status_code >= 300:
            raise BenchError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None

    def draft(self, client: httpx.Client) -> str:
        """A draft with the ~2 KB e-form and both required components: ready to submit."""
        body = {"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": self.form}
        dossier = self._call(client, "POST", "/dossiers", json=body)
        for code in ("TKKS", "GCS"):
            self._call(
                client,
                "POST",
                f"/dossiers/{dossier['id']}/components",
                json={"componentCode": code, "file": _upload()},
            )
        return str(dossier["id"])

    def drafts(self, count: int, threads: int = 8) -> list[str]:
        """``count`` drafts ready to submit, made by ``threads`` clients at once."""

        def make(share: int) -> list[str]:
            with httpx.Client(timeout=30) as client:
                return [self.draft(client) for _ in range(share)]

        shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            return [dossier for made in pool.map(make, shares) for dossier in made]

    def read(self, dossier_id: str) -> bytes:
        """The bytes of ``GET /dossiers/{id}`` (the bare app answers the same document)."""
        answer = httpx.get(
            f"{self.base_url}/dossiers/{dossier_id}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        if answer.status_code != 200:
            raise BenchError(f"GET /dossiers/{dossier_id}: {answer.status_code} {answer.text}")
        return answer.content

    def codes(self) -> list[str]:
        """The codes of every submitted dossier of the citizen, in list order."""
        codes: list[str] = []
        query: dict[str, Any] = {"limit": 100}
        with httpx.Client(timeout=30) as client:
            while True:
                page = self._call(client, "GET", "/dossiers", params=query)
                codes += [d["code"] for d in page["items"] if d.get("code")]
                if not page.get("nextCursor"):
                    return codes
                query["cursor"] = page["nextCursor"]

    def submit(self, dossier_id: str) -> dict[str, Any]:
        """Submit one draft (outside a measured run)."""
        with httpx.Client(timeout=30) as client:
            answer: dict[str, Any] = self._call(
                client, "POST", f"/dossiers/{dossier_id}/submission"
            )
        return answer
