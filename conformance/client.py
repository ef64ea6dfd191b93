"""HTTP to the target, with every exchange recorded as evidence and secrets redacted first.

Suites talk to the system under test only through `TargetClient`: it knows the base URL of
each interface and the token of each test identity, and it records each exchange (redacted)
so that a failed check can show the vendor exactly what was sent and what came back.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from .config import TargetConfig
from .identities import TokenSource
from .outcomes import Exchange, HarnessError, HttpRequest, HttpResponse

REDACTED = "***"
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "x-api-key", "proxy-authorization"}
)
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "id_token",
        "refresh_token",
        "client_secret",
        "code_verifier",
        "password",
    }
)
"""JSON fields whose values never reach a report."""
SECRET_PARAMETERS = SECRET_FIELDS | {"code", "token", "secret"}
"""Query and form parameters whose values never reach a report (``code`` is a one-time grant)."""
_BODY_LIMIT = 20_000
"""Characters of a body kept as evidence; the rest is cut (files, large listings)."""

EXCHANGE_KEY = "egov_exchange"
"""Where a response carries its recorded `Exchange` (``response.extensions``)."""

Observer = Callable[[str, str, httpx.Response], None]
"""Called with the interface, the path and the response after every JSON response."""


class Recorder:
    """The exchanges of the test that is running."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def clear(self) -> None:
        """Start the evidence of a new test."""
        self.exchanges = []

    def add(self, exchange: Exchange) -> None:
        """Keep one exchange."""
        self.exchanges.append(exchange)


class TargetClient:
    """Calls the target's interfaces as one of the test identities."""

    def __init__(
        self,
        config: TargetConfig,
        tokens: Mapping[str, TokenSource],
        recorder: Recorder | None = None,
        observers: Iterable[Observer] = (),
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.recorder = recorder or Recorder()
        self._observers = list(observers)
        self._secrets = tuple(sorted(set(config.secret_values()), key=len, reverse=True))
        self._http = httpx.Client(
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def token(self, identity: str) -> str:
        """A current token of the identity ``identity`` (e.g. ``applicantA``)."""
        try:
            return self.tokens[identity].token()
        except KeyError:
            raise HarnessError(
                f"the target configuration has no identity {identity!r}; add it under identities"
            ) from None

    def observe(self, observer: Observer) -> None:
        """Call ``observer`` after every JSON response from now on.

        An observer checks what every response must satisfy (see `conformance.invariants`);
        the `CheckFailed` it raises reaches the caller of `call`, exchange recorded first.
        """
        self._observers.append(observer)

    def url(self, interface: str, path: str) -> str:
        """The absolute URL of ``path`` on ``interface``."""
        return self.config.base_url(interface) + path

    def call(
        self,
        method: str,
        interface: str,
        path: str,
        *,
        as_: str | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request as identity ``as_`` (or with ``token``; neither: anonymous)."""
        sent_headers = dict(headers or {})
        if token is None and as_ is not None:
            token = self.token(as_)
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        url = self.url(interface, path)
        started = time.perf_counter()
        try:
            response = self._http.request(method, url, headers=sent_headers, **kwargs)
        except httpx.TransportError as problem:
            raise HarnessError(
                f"{method} {url} failed before an answer came: {type(problem).__name__}: {problem}"
            ) from problem
        elapsed = (time.perf_counter() - started) * 1000
        exchange = Exchange(
            request=self._request_evidence(response.request),
            response=self._response_evidence(response),
            elapsed_ms=elapsed,
        )
        self.recorder.add(exchange)
        response.extensions[EXCHANGE_KEY] = exchange
        if self._observers and _is_json(response):
            for observer in tuple(self._observers):
                observer(interface, path, response)
        return response

    # ---- redaction -------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """``text`` with every configured secret and every bearer token replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _BEARER.sub(f"Bearer {REDACTED}", text)

    def _request_evidence(self, request: httpx.Request) -> HttpRequest:
        body = _decode(request.headers.get("content-type", ""), request.content)
        return HttpRequest(
            method=request.method,
            url=self.scrub(redact_url(str(request.url))),
            headers=self._headers(request.headers.items()),
            body=self._body(body),
        )

    def _response_evidence(self, response: httpx.Response) -> HttpResponse:
        body = _decode(response.headers.get("content-type", ""), response.content)
        return HttpResponse(
            status=response.status_code,
            headers=self._headers(response.headers.items()),
            body=self._body(body),
        )

    def _headers(self, items: Iterable[tuple[str, str]]) -> dict[str, str]:
        kept: dict[str, str] = {}
        for name, value in items:
            if name.lower() in SECRET_HEADERS:
                scheme = value.split(" ", 1)[0] if " " in value else ""
                kept[name] = f"{scheme} {REDACTED}".strip()
            else:
                kept[name] = self.scrub(value)
        return kept

    def _body(self, body: Any) -> Any:
        return _walk(redact_fields(body), self.scrub)


_BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]+")


def _is_json(response: httpx.Response) -> bool:
    media = str(response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def redact_url(url: str) -> str:
    """``url`` with secret query parameters (``code``, ``client_secret``…) shown as ``***``."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (key, REDACTED if key.lower() in SECRET_PARAMETERS else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def redact_fields(body: Any) -> Any:
    """A copy of a JSON body with the values of secret fields replaced by ``***``."""
    if isinstance(body, dict):
        return {
            key: (REDACTED if str(key).lower() in SECRET_FIELDS else redact_fields(value))
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [redact_fields(item) for item in body]
    return body


def _walk(body: Any, scrub: Any) -> Any:
    if isinstance(body, str):
        return scrub(body)
    if isinstance(body, dict):
        return {key: _walk(value, scrub) for key, value in body.items()}
    if isinstance(body, list):
        return [_walk(item, scrub) for item in body]
    return body


def _decode(content_type: str, content: bytes) -> Any:
    """A body as evidence: JSON as data, a form as a mapping, text cut short, bytes summarised."""
    if not content:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            if len(content) <= _BODY_LIMIT:
                return json.loads(content)
        except ValueError:
            pass
    if media == "application/x-www-form-urlencoded":
        form = parse_qsl(content.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: (REDACTED if k.lower() in SECRET_PARAMETERS else v) for k, v in form}
    if media.startswith("text/") or media.endswith(("json", "xml")):
        text = content.decode("utf-8", "replace")
        return text if len(text) <= _BODY_LIMIT else text[:_BODY_LIMIT] + "… (cut)"
    return f"<{len(content)} bytes of {media or 'unknown type'}>"
