"""`NpspSync`: the kit as the National Public Service Portal's sync endpoint (specs/sync.yaml).

A one-stop system under test is configured to push to `NpspSync.base_url`; every push is
recorded with the schema errors the contract finds in it, and answered as the NPSP would
(201 the first time, 200 after; 400 for a body that breaks the contract; 422 when the code
in the body is not the one in the path), so the target's outbox sees a well-behaved NPSP.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from egov_contract import contract

from .host import SimulatorHost

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_SCHEMAS = {
    "dossier": "sync.json#/$defs/dossierSync",
    "result": "sync.json#/$defs/resultSync",
    "payment": "sync.json#/$defs/paymentSync",
}
_KEYS = {"dossier": "dossierCode", "result": "resultCode", "payment": "transactionId"}


@dataclass(frozen=True)
class SyncPush:
    """One push as it arrived at the simulated NPSP."""

    kind: str
    """``dossier``, ``result`` or ``payment``."""
    method: str
    path: str
    key: str | None
    """The dossier code, result code or transaction id the push is about."""
    body: Any
    errors: tuple[str, ...]
    """What the contract finds wrong with the push (empty when it is valid)."""
    authorized: bool
    """Whether the push carried a bearer token."""
    received_at: float


class NpspSync:
    """Records the dossiers, results and payments a one-stop system pushes."""

    def __init__(self, host: SimulatorHost) -> None:
        self._host = host
        self._pushes: list[SyncPush] = []
        self._held: dict[tuple[str, str], dict[str, Any]] = {}
        self._changed = threading.Condition()
        host.mount(
            "/sync",
            [
                Route("/dossiers/{code}", self._dossier, methods=["PUT", "GET"]),
                Route("/results/{code}", self._result, methods=["PUT"]),
                Route("/payments", self._payment, methods=["POST"]),
            ],
        )

    @property
    def base_url(self) -> str:
        """The NPSP sync base URL to configure in the target (paths start with ``/sync``)."""
        return self._host.base_url

    def pushes(self, kind: str | None = None) -> list[SyncPush]:
        """Every push so far (of ``kind``), in arrival order."""
        with self._changed:
            return [p for p in self._pushes if kind is None or p.kind == kind]

    def wait_for(
        self, predicate: Callable[[SyncPush], bool], timeout: float = 10.0
    ) -> SyncPush | None:
        """The first push matching ``predicate``, waiting at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for push in self._pushes:
                    if predicate(push):
                        return push
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def held(self, kind: str, key: str) -> dict[str, Any] | None:
        """The last valid state pushed for ``key`` (a dossier code, result code, transaction)."""
        with self._changed:
            found = self._held.get((kind, key))
            return dict(found) if found is not None else None

    # ---- the endpoints -----------------------------------------------------------------------

    async def _dossier(self, request: Request) -> Response:
        code = request.path_params["code"]
        if request.method == "GET":
            held = self.held("dossier", code)
            if held is None:
                return _problem(404, f"The simulated NPSP holds no dossier {code}.")
            return JSONResponse(held)
        return await self._push(request, "dossier", code)

    async def _result(self, request: Request) -> Response:
        return await self._push(request, "result", request.path_params["code"])

    async def _payment(self, request: Request) -> Response:
        return await self._push(request, "payment", None)

    async def _push(self, request: Request, kind: str, path_key: str | None) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        errors: list[str] = []
        status = 400
        if body is None:
            errors.append("the body is not JSON")
        else:
            validator = contract().schema_validator(_SCHEMAS[kind])
            for error in validator.iter_errors(body):
                where = "/" + "/".join(str(part) for part in error.absolute_path)
                errors.append(f"{where}: {error.message}")
        key = body.get(_KEYS[kind]) if isinstance(body, dict) else None
        if not errors and path_key is not None and key != path_key:
            status = 422
            errors.append(f"/{_KEYS[kind]}: {key!r} is not the code of the path, {path_key!r}")
        authorized = request.headers.get("authorization", "").lower().startswith("bearer ")
        push = SyncPush(
            kind=kind,
            method=request.method,
            path=request.url.path,
            key=key if isinstance(key, str) else path_key,
            body=body,
            errors=tuple(errors),
            authorized=authorized,
            received_at=time.time(),
        )
        stored: dict[str, Any] | None = None
        new = False
        with self._changed:
            self._pushes.append(push)
            if not errors and isinstance(key, str):
                new = (kind, key) not in self._held
                stamp = datetime.now(VN_TZ).isoformat(timespec="seconds")
                stored = {**body, "receivedAt": stamp}
                self._held[(kind, key)] = stored
            self._changed.notify_all()
        if stored is None:
            return _problem(status, "; ".join(errors))
        return JSONResponse(stored, 201 if new else 200)


def _problem(status: int, detail: str) -> Response:
    titles = {400: "Bad Request", 404: "Not Found", 422: "Unprocessable Content"}
    return JSONResponse(
        {
            "type": "about:blank",
            "title": titles.get(status, "Error"),
            "status": status,
            "detail": detail[:2000],
        },
        status,
        media_type="application/problem+json",
    )
