"""``egov-conformance doctor``: the set-up mistakes most failed certifications turn out to be.

Before a run, check what a run cannot: that every configured interface answers, that the
discovery document and its JWKS are where the configuration says, that every identity gets a
token the target accepts, that the target's clock agrees with ours, that the simulators can
listen where the target will call them, and that the named procedures and agency exist as the
suites need them. Each problem is one line with its fix; `run` stops on any (exit 2).
"""

from __future__ import annotations

import re
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import httpx

from .config import ConfigError, Identity, TargetConfig, load_target
from .identities import token_source
from .outcomes import HarnessError

if TYPE_CHECKING:
    from .simulators import IdentityProvider, OnDemand

CLOCK_TOLERANCE_SECONDS = 60.0
"""Skew beyond which deadlines, receipt times and token lifetimes stop meaning the same."""

_LOOPBACK = ("127.", "localhost", "::1", "[::1]")


class Level(StrEnum):
    """How a finding weighs: only a problem stops a run."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"
    SKIPPED = "skipped"


_MARKS = {Level.OK: "✓", Level.WARNING: "!", Level.PROBLEM: "✗", Level.SKIPPED: "–"}


@dataclass(frozen=True)
class Finding:
    """One check's result: what was looked at, what was found, and how to fix it."""

    level: Level
    subject: str
    text: str
    fix: str = ""

    def line(self) -> str:
        """The finding as a person reads it, on one line."""
        fix = f" — {self.fix}" if self.fix else ""
        return f"{_MARKS[self.level]} {self.subject}: {self.text}{fix}"


@dataclass
class _Probe:
    """What the checks share: the configuration, one HTTP client and what failed so far."""

    config: TargetConfig
    http: httpx.Client
    down: set[str] = field(default_factory=set)
    dates: list[tuple[str, float]] = field(default_factory=list)
    kit: OnDemand | None = None
    """The kit's simulators, started for the first ``kit-issuer`` identity checked."""

    def provider(self) -> IdentityProvider:
        """The kit's identity provider, serving (its JWK Set is what the target fetches)."""
        if self.kit is None:
            from .simulators import OnDemand

            self.kit = OnDemand(self.config)
        return self.kit().identity

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        started = time.time()
        answer = self.http.get(url, **kwargs)
        if "date" in answer.headers:
            # The clock is compared with the middle of the exchange, when the server wrote it.
            self.dates.append((answer.headers["date"], (started + time.time()) / 2))
        return answer


def examine(target: str) -> tuple[TargetConfig | None, list[Finding]]:
    """Load ``target`` (a configuration file or a base URL) and check it; never raises."""
    try:
        config = load_target(target)
    except ConfigError as problem:
        return None, [Finding(Level.PROBLEM, "configuration", str(problem))]
    return config, diagnose(config)


def diagnose(config: TargetConfig) -> list[Finding]:
    """Every check of the module docstring, in the order a person fixes them."""
    timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
    with httpx.Client(timeout=timeout, follow_redirects=False) as http:
        probe = _Probe(config, http)
        findings = list(_answers(probe))
        if probe.down >= set(config.base_urls):
            # Nothing answers: every other check would only repeat it.
            return findings
        discovery = list(_discovery(probe))
        findings += discovery
        findings += _clock(probe.dates)
        discovered = not any(f.level is Level.PROBLEM for f in discovery)
        try:
            for identity in config.identities.values():
                findings += _identity(probe, identity, discovered)
        finally:
            if probe.kit is not None:
                probe.kit.stop()
        findings += _simulators(config)
        findings += _procedures(probe)
    return findings


def problems(findings: Sequence[Finding]) -> list[Finding]:
    """The findings that stop a run."""
    return [f for f in findings if f.level is Level.PROBLEM]


def report(
    findings: Sequence[Finding],
    *,
    quiet: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print the findings (problems and warnings to ``err``); 0 when none is a problem, else 2."""
    out, err = out or sys.stdout, err or sys.stderr
    for finding in findings:
        if finding.level in (Level.PROBLEM, Level.WARNING):
            print(finding.line(), file=err)
        elif not quiet:
            print(finding.line(), file=out)
    return 2 if problems(findings) else 0


def before_run(target: str, *, quiet: bool) -> bool:
    """The checks before a run: problems and warnings printed, the rest counted; True to go on."""
    _config, findings = examine(target)
    if report([f for f in findings if f.level is not Level.OK], quiet=quiet):
        return False
    if not quiet:
        passed = sum(f.level is Level.OK for f in findings)
        print(f"set-up checked: {passed} checks passed (details: egov-conformance doctor)")
    return True


# ---- the target answers ------------------------------------------------------------------


def _answers(probe: _Probe) -> Iterator[Finding]:
    by_url: dict[str, list[str]] = {}
    for interface, url in probe.config.base_urls.items():
        by_url.setdefault(url, []).append(interface)
    every = len(by_url) == 1
    for url, interfaces in by_url.items():
        subject = "target" if every else f"interface {', '.join(interfaces)}"
        try:
            answer = probe.get(url + "/")
        except httpx.HTTPError as problem:
            probe.down.update(interfaces)
            where = "the URL" if probe.config.sandbox else _keys(interfaces, every)
            yield Finding(
                Level.PROBLEM,
                subject,
                f"{url} does not answer ({type(problem).__name__})",
                f"check that the system is running and that {where} is right",
            )
            continue
        yield Finding(Level.OK, subject, f"{url} answers (HTTP {answer.status_code})")


def _keys(interfaces: Sequence[str], every: bool) -> str:
    if every:
        return "baseUrl in the configuration"
    return " and ".join(f"interfaces.{name}" for name in interfaces) + " (or baseUrl)"


# ---- the discovery document and its JWKS -------------------------------------------------


def _discovery(probe: _Probe) -> Iterator[Finding]:
    subject = "discovery document"
    if "identity" not in probe.config.base_urls:
        yield Finding(
            Level.PROBLEM,
            subject,
            "no base URL for the identity interface",
            "set baseUrl or interfaces.identity",
        )
        return
    if "identity" in probe.down:
        yield Finding(Level.SKIPPED, subject, "not checked: the identity interface is down")
        return
    url = probe.config.base_url("identity") + "/.well-known/openid-configuration"
    fix = "interfaces.identity must be the URL under which /.well-known/openid-configuration is"
    try:
        answer = probe.get(url)
        document = answer.json() if answer.status_code == 200 else None
    except httpx.HTTPError as problem:
        yield Finding(Level.PROBLEM, subject, f"{url} failed ({type(problem).__name__})", fix)
        return
    except ValueError:
        yield Finding(Level.PROBLEM, subject, f"{url} answered something that is not JSON", fix)
        return
    if document is None:
        yield Finding(Level.PROBLEM, subject, f"{url} answered HTTP {answer.status_code}", fix)
        return
    missing = [
        key
        for key in ("issuer", "jwks_uri", "token_endpoint")
        if not isinstance(document, dict) or not isinstance(document.get(key), str)
    ]
    if missing:
        yield Finding(
            Level.PROBLEM,
            subject,
            f"{url} lacks {', '.join(missing)}",
            "the document must name the issuer, its jwks_uri and its token_endpoint",
        )
        return
    yield Finding(Level.OK, subject, f"{url} names issuer {document['issuer']}")
    yield from _jwks(probe, str(document["jwks_uri"]))


def _jwks(probe: _Probe, url: str) -> Iterator[Finding]:
    fix = "jwks_uri of the discovery document must be reachable from here"
    try:
        answer = probe.get(url)
        keys = answer.json().get("keys") if answer.status_code == 200 else None
    except httpx.HTTPError as problem:
        yield Finding(Level.PROBLEM, "JWKS", f"{url} failed ({type(problem).__name__})", fix)
        return
    except (ValueError, AttributeError):
        keys = None
    if not isinstance(keys, list) or not keys:
        yield Finding(Level.PROBLEM, "JWKS", f"{url} does not answer a set of keys", fix)
        return
    yield Finding(Level.OK, "JWKS", f"{url} publishes {len(keys)} key(s)")


# ---- the clock ---------------------------------------------------------------------------


def clock_finding(date_header: str, at: float) -> Finding:
    """Compare a response's ``Date`` with our clock at the moment ``at`` (epoch seconds)."""
    try:
        theirs = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return Finding(Level.WARNING, "clock", f"the Date header {date_header!r} is not a date")
    if theirs.tzinfo is None:
        theirs = theirs.replace(tzinfo=UTC)
    ours = datetime.fromtimestamp(at, UTC)
    skew = (theirs - ours).total_seconds()
    said = f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} ours"
    if abs(skew) > CLOCK_TOLERANCE_SECONDS:
        return Finding(
            Level.PROBLEM,
            "clock",
            f"the target's clock is {said} (more than ±{CLOCK_TOLERANCE_SECONDS:.0f} s)",
            "synchronise the target's or this machine's clock (NTP); receipt times, deadlines "
            "and token lifetimes depend on it",
        )
    return Finding(Level.OK, "clock", f"the target's clock agrees with ours (skew {skew:+.0f} s)")


def _clock(dates: Sequence[tuple[str, float]]) -> list[Finding]:
    if not dates:
        return [
            Finding(
                Level.WARNING,
                "clock",
                "the target sends no Date header, so its clock cannot be compared with ours",
            )
        ]
    return [clock_finding(*dates[0])]


# ---- identities --------------------------------------------------------------------------


def _needs_discovery(identity: Identity) -> bool:
    if identity.kind == "client-credentials":
        return not identity.settings.get("tokenUrl")
    return identity.kind == "oidc-sandbox"


def _identity(probe: _Probe, identity: Identity, discovered: bool) -> Iterator[Finding]:
    subject = f"identity {identity.name}"
    where = f"(identities.{identity.name})"
    if _needs_discovery(identity) and not discovered:
        yield Finding(Level.SKIPPED, subject, "not checked: it signs in through discovery")
        return
    config = probe.config
    if identity.kind == "kit-issuer" and not (config.simulator_port or config.simulator_public_url):
        yield Finding(
            Level.PROBLEM,
            subject,
            "its tokens are the kit's, whose issuer moves with the simulators' port, which is "
            "chosen anew every run",
            "set simulators.port (and simulators.publicBaseUrl if the target reaches the kit at "
            f"another address), then make the target trust the kit's issuer {where}",
        )
        return
    try:
        token = token_source(identity, config, probe.provider).token()
    except (HarnessError, ConfigError, httpx.HTTPError, ValueError, KeyError) as problem:
        text, fix = _token_trouble(identity, problem)
        yield Finding(Level.PROBLEM, subject, text, f"{fix} {where}")
        return
    yield from _accepted(probe, identity, token, subject, where)


def _token_trouble(identity: Identity, problem: Exception) -> tuple[str, str]:
    message = str(problem).removeprefix(f"identity {identity.name!r}: ")
    status = re.search(r"answered HTTP (\d{3})", message)
    if status:
        if status.group(1) in ("400", "401"):
            secret = "clientSecret" if identity.settings.get("clientSecret") else "clientId"
            return f"the token endpoint answered {status.group(1)}", f"check {secret}"
        return f"the token endpoint answered {status.group(1)}", "check the identity provider"
    if "did not redirect with a code" in message:
        return message.split(";")[0], "check loginHint, clientId and redirectUri"
    if identity.kind == "token-command":
        return message, "the command must print a token and exit 0"
    if isinstance(problem, KeyError):
        return f"the discovery document lacks {problem}", "check the identity provider"
    return message.split("; check")[0], "check the identity provider and its URL"


def _accepted(
    probe: _Probe, identity: Identity, token: str, subject: str, where: str
) -> Iterator[Finding]:
    config = probe.config
    if identity.name == "system":
        operation = _system_operation(config)
        if operation is None:
            yield Finding(
                Level.OK, subject, "got a token (neither events nor sync is claimed to try it on)"
            )
            return
        interface, path = operation
    else:
        interface, path = "identity", "/accounts/me"
    if interface in probe.down or interface not in config.base_urls:
        why = "is down" if interface in probe.down else "has no base URL"
        yield Finding(Level.SKIPPED, subject, f"got a token; the {interface} interface {why}")
        return
    try:
        answer = probe.get(
            config.base_url(interface) + path, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as problem:
        yield Finding(Level.PROBLEM, subject, f"GET {path} failed ({type(problem).__name__})")
        return
    if answer.status_code == 401:
        yield Finding(
            Level.PROBLEM,
            subject,
            f"the target refused its token (GET {path} answered 401)",
            f"{_refused_fix(probe, identity)} {where}",
        )
        return
    yield Finding(
        Level.OK, subject, f"got a token the target accepts (GET {path}: {answer.status_code})"
    )


def _system_operation(config: TargetConfig) -> tuple[str, str] | None:
    if config.claims("events"):
        return "events", "/events?limit=1"
    if config.claims("sync"):
        # A well-formed code nobody has synced: 404 means "signed in, nothing there".
        return "sync", f"/sync/dossiers/{config.procedures.agency_code}-250101-9999"
    return None


def _refused_fix(probe: _Probe, identity: Identity) -> str:
    if identity.kind == "kit-issuer":
        kit = probe.provider()
        return (
            f"the target must trust issuer {kit.issuer} with JWKS URL {kit.jwks_uri} "
            "(and fetch it again on an unknown kid: the key is new every run)"
        )
    if identity.kind == "static-token":
        return "the token has expired or is not one the target trusts; renew token"
    if identity.kind == "token-command":
        return "the command prints a token the target does not trust; check command"
    return "the target does not trust the tokens of its own identity provider for this client"


# ---- the simulators ----------------------------------------------------------------------


def _simulators(config: TargetConfig) -> list[Finding]:
    host, port = config.simulator_host, config.simulator_port or 0
    shown = f"{host}:{port}" if port else f"{host} (any free port)"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as listener:
            # As the simulators bind: a port the checks above just served on is still free.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
    except OSError as problem:
        return [
            Finding(
                Level.PROBLEM,
                "simulators",
                f"cannot listen on {shown}: {problem.strerror or problem}",
                "choose another simulators.host or simulators.port",
            )
        ]
    found = [Finding(Level.OK, "simulators", f"can listen on {shown}")]
    if config.simulator_public_url:
        found.append(
            Finding(
                Level.WARNING,
                "simulators",
                f"the target must reach them at {config.simulator_public_url} "
                "(simulators.publicBaseUrl); that cannot be proven from here unless the target "
                "calls it back",
                "run `egov-conformance run --requirement EVT-01` to see a delivery arrive",
            )
        )
    elif _is_loopback(host) and not all(_is_loopback(u) for u in config.base_urls.values()):
        found.append(
            Finding(
                Level.WARNING,
                "simulators",
                f"they listen on {host}, which a target on another machine cannot call back",
                "set simulators.host and simulators.publicBaseUrl to an address the target reaches",
            )
        )
    return found


def _is_loopback(url_or_host: str) -> bool:
    host = urlsplit(url_or_host).hostname if "//" in url_or_host else url_or_host
    return (host or "").startswith(_LOOPBACK)


# ---- the procedures and the agency -------------------------------------------------------


def _procedures(probe: _Probe) -> Iterator[Finding]:
    config = probe.config
    if "catalogue" not in config.base_urls or "catalogue" in probe.down:
        yield Finding(Level.SKIPPED, "procedures", "not checked: the catalogue is unreachable")
        return
    named = config.procedures
    wanted = (
        ("primary", named.primary),
        ("withFee", named.with_fee),
        ("partlyOnline", named.partly_online),
    )
    for key, code in wanted:
        if code is not None:
            yield _procedure(probe, key, code)
    yield _agency(probe, named.agency_code)


def _catalogue_entry(probe: _Probe, path: str) -> tuple[int | None, Any]:
    try:
        answer = probe.get(probe.config.base_url("catalogue") + path)
    except httpx.HTTPError:
        return None, None
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, None


def _procedure(probe: _Probe, key: str, code: str) -> Finding:
    subject = f"procedure {code} (procedures.{key})"
    status, body = _catalogue_entry(probe, f"/procedures/{code}")
    if status != 200 or not isinstance(body, dict):
        said = "did not answer" if status is None else f"answered {status}"
        return Finding(
            Level.PROBLEM,
            subject,
            f"GET /procedures/{code} {said}",
            f"name a procedure the target publishes in procedures.{key}",
        )
    level, fees = body.get("onlineLevel"), body.get("fees")
    if key == "primary" and level != "full":
        return Finding(
            Level.PROBLEM,
            subject,
            f"it is onlineLevel {level!r}; the primary procedure must be fully online",
            "choose a procedure with onlineLevel full",
        )
    if key == "partlyOnline" and level != "partial":
        return Finding(
            Level.PROBLEM,
            subject,
            f"it is onlineLevel {level!r}, not partial",
            "choose a partly online procedure",
        )
    if key == "withFee" and not fees:
        return Finding(
            Level.PROBLEM, subject, "it has no fees", "choose a procedure that charges a fee"
        )
    return Finding(Level.OK, subject, f"exists (onlineLevel {level}, {len(fees or ())} fee(s))")


def _agency(probe: _Probe, code: str) -> Finding:
    subject = f"agency {code} (procedures.agencyCode)"
    status, _ = _catalogue_entry(probe, f"/agencies/{code}")
    if status != 200:
        said = "did not answer" if status is None else f"answered {status}"
        return Finding(
            Level.PROBLEM,
            subject,
            f"GET /agencies/{code} {said}",
            "name the agency of the target whose officer is identities.officer",
        )
    return Finding(Level.OK, subject, "exists")
