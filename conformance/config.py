"""The target configuration: where the system under test is and how the kit signs in to it.

A vendor writes a YAML or JSON file valid against ``schemas/target-config.json``; a bare base URL
means "the reference sandbox layout at this URL" (every interface at one URL, the sandbox
identity provider, the fixture subjects). Either way the result is one frozen `TargetConfig`,
read once; secrets given as ``{env: NAME}`` are resolved here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from egov_contract import contract

from .outcomes import Waiver

INTERFACES = (
    "identity",
    "catalogue",
    "dossiers",
    "ecopies",
    "payments",
    "paymentPlatform",
    "results",
    "repository",
    "requests",
    "events",
    "sync",
)
"""The interfaces of the contract, as the configuration names them."""

SPEC_OF_INTERFACE = MappingProxyType(
    {name: ("payment-platform" if name == "paymentPlatform" else name) for name in INTERFACES}
)
"""The file in ``specs/`` (without ``.yaml``) that describes each interface."""

CAPABILITIES = (
    "ecopies",
    "online-requests",
    "paper-printout",
    "events",
    "sync",
    "payment",
    "repository",
)
PROFILES = ("national-portal", "one-stop", "payment-platform", "repository")

# The reference sandbox: every fixture subject signs in through the sandbox provider with the
# harness's registered client (fixtures/systems.json and reference_impl's identity sandbox).
SANDBOX_CLIENT = "conformance-harness"
SANDBOX_REDIRECT = "http://127.0.0.1/callback"
SANDBOX_SUBJECTS = MappingProxyType(
    {
        "applicantA": "079190012345",
        "applicantB": "001203012345",
        "organisation": "5700101059",
        "officer": "canbo.h22.honghai.01",
        "officerOtherAgency": "canbo.h22.baichay.01",
    }
)
# The one-stop system of the primary agency's province: it may subscribe to events, push to the
# NPSP and collect payments, so every system operation of the profiles can be exercised.
SANDBOX_SYSTEM = ("one-stop-h22", "sandbox-only-f53dd749197ca7044bd264033f543851")
SANDBOX_PLATFORM_SECRET = "sandbox-payment-secret-change-me"
# applicantB as the kit's identity provider issues it: the fixture citizen the sandbox signs in
# for applicantB, so a server that keys applicants on their personal ID sees the same person.
SANDBOX_KIT_APPLICANT = MappingProxyType(
    {
        "kind": "kit-issuer",
        "accountType": "individual",
        "personalId": SANDBOX_SUBJECTS["applicantB"],
        "name": "Nguyễn Văn An",
    }
)


class ConfigError(Exception):
    """The target configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Identity:
    """How to obtain a token for one test identity (``kind`` and its settings, secrets resolved)."""

    name: str
    kind: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class Procedures:
    """The procedures of the target's catalogue the suites use."""

    primary: str
    agency_code: str
    with_fee: str | None = None
    partly_online: str | None = None


@dataclass(frozen=True)
class TargetConfig:
    """Everything the kit knows about one system under test. Read once, never changed."""

    name: str
    base_urls: Mapping[str, str]
    identities: Mapping[str, Identity]
    procedures: Procedures
    profiles: tuple[str, ...] = ()
    capabilities: frozenset[str] = frozenset()
    secrets: Mapping[str, str] = field(default_factory=dict)
    vendor: str | None = None
    version: str | None = None
    simulator_host: str = "127.0.0.1"
    simulator_port: int | None = None
    simulator_public_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    waivers: tuple[Waiver, ...] = ()
    signer_files: tuple[str, str] | None = None
    source: str = ""
    sha256: str = ""
    sandbox: bool = False

    def base_url(self, interface: str) -> str:
        """The base URL of ``interface`` (no trailing slash)."""
        try:
            return self.base_urls[interface]
        except KeyError:
            raise ConfigError(
                f"{self.source}: no base URL for the {interface!r} interface; set `baseUrl` or "
                f"`interfaces.{interface}`"
            ) from None

    def claims(self, capability: str) -> bool:
        """True when the target claims the optional feature ``capability``."""
        return capability in self.capabilities

    def secret_values(self) -> tuple[str, ...]:
        """Every secret the configuration holds, so that reports can be scrubbed of them."""
        found = list(self.secrets.values())
        for identity in self.identities.values():
            for key in ("clientSecret", "token"):
                value = identity.settings.get(key)
                if isinstance(value, str):
                    found.append(value)
        return tuple(value for value in found if value)

    def report_target(self) -> dict[str, Any]:
        """The report's ``target`` object (schemas/report.json)."""
        data: dict[str, Any] = {
            "name": self.name,
            "baseUrls": dict(self.base_urls),
            "capabilities": sorted(self.capabilities),
            "configSha256": self.sha256,
        }
        if self.vendor:
            data["vendor"] = self.vendor
        if self.version:
            data["version"] = self.version
        return data


def load_target(value: str) -> TargetConfig:
    """The configuration in the file ``value``, or the sandbox layout when it is a base URL."""
    if value.startswith(("http://", "https://")):
        return sandbox_target(value)
    path = Path(value)
    if not path.is_file():
        raise ConfigError(
            f"{value}: no such file; give a target configuration (.yaml or .json) or a base URL "
            "starting with http:// or https://"
        )
    raw = path.read_bytes()
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as problem:
        raise ConfigError(f"{value}: not readable as YAML or JSON: {problem}") from None
    return target_from_document(document, source=str(path), sha256=hashlib.sha256(raw).hexdigest())


def sandbox_target(base_url: str) -> TargetConfig:
    """The reference sandbox at ``base_url``: fixture subjects, every capability claimed."""
    document = sandbox_document(base_url)
    encoded = json.dumps(document, sort_keys=True).encode()
    config = target_from_document(
        document, source=base_url.rstrip("/"), sha256=hashlib.sha256(encoded).hexdigest()
    )
    return replace(config, sandbox=True)


def sandbox_document(
    base_url: str, simulator_port: int | None = None, *, kit_issued: bool = True
) -> dict[str, Any]:
    """The target configuration, as a document, of the reference sandbox at ``base_url``.

    With ``simulator_port`` the simulators listen there on loopback, and applicantB is issued
    by the kit (`SANDBOX_KIT_APPLICANT`) unless ``kit_issued`` is false: for a server started
    trusting the kit's issuer at that address. A bare URL gives no simulators, so every
    identity signs in at the sandbox.
    """
    base_url = base_url.rstrip("/")
    identities: dict[str, Any] = {
        name: {
            "kind": "oidc-sandbox",
            "loginHint": hint,
            "clientId": SANDBOX_CLIENT,
            "redirectUri": SANDBOX_REDIRECT,
        }
        for name, hint in SANDBOX_SUBJECTS.items()
    }
    identities["system"] = {
        "kind": "client-credentials",
        "clientId": SANDBOX_SYSTEM[0],
        "clientSecret": SANDBOX_SYSTEM[1],
    }
    extra: dict[str, Any] = {}
    if simulator_port is not None:
        if kit_issued:
            identities["applicantB"] = dict(SANDBOX_KIT_APPLICANT)
        extra["simulators"] = {"host": "127.0.0.1", "port": simulator_port}
    return {
        "target": {"name": f"Reference sandbox at {base_url}"},
        "baseUrl": base_url,
        "profiles": list(PROFILES),
        "capabilities": list(CAPABILITIES),
        "identities": identities,
        "procedures": {
            "primary": "1.001193",
            "withFee": "1.000894",
            "partlyOnline": "1.004227",
            "agencyCode": "000.00.01.H22",
        },
        "secrets": {"paymentNotification": SANDBOX_PLATFORM_SECRET},
        **extra,
    }


def target_from_document(document: Any, *, source: str, sha256: str) -> TargetConfig:
    """A `TargetConfig` from a parsed document, validated against its schema first."""
    document = _plain(document)
    validator = contract().schema_validator("target-config.json")
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"  {_pointer(error.absolute_path)}: {error.message} (rule: {error.validator})"
            for error in errors[:10]
        ]
        more = f"\n  … and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise ConfigError(
            f"{source} is not a valid target configuration (schemas/target-config.json):\n"
            + "\n".join(lines)
            + more
        )
    base = document.get("baseUrl")
    overrides = document.get("interfaces", {})
    base_urls = {
        name: str(overrides.get(name, base)).rstrip("/")
        for name in INTERFACES
        if overrides.get(name, base) is not None
    }
    identities = {
        name: Identity(name, spec["kind"], MappingProxyType(_resolve_secrets(spec, source)))
        for name, spec in document["identities"].items()
    }
    secrets = {
        name: _secret(value, f"{source}: secrets.{name}")
        for name, value in document.get("secrets", {}).items()
    }
    procedures = document["procedures"]
    simulators = document.get("simulators", {})
    timeouts = document.get("timeouts", {})
    target = document["target"]
    return TargetConfig(
        name=target["name"],
        vendor=target.get("vendor"),
        version=target.get("version"),
        base_urls=MappingProxyType(base_urls),
        identities=MappingProxyType(identities),
        procedures=Procedures(
            primary=procedures["primary"],
            agency_code=procedures["agencyCode"],
            with_fee=procedures.get("withFee"),
            partly_online=procedures.get("partlyOnline"),
        ),
        profiles=tuple(document.get("profiles", ())),
        capabilities=frozenset(document.get("capabilities", ())),
        secrets=MappingProxyType(secrets),
        simulator_host=simulators.get("host", "127.0.0.1"),
        simulator_port=simulators.get("port"),
        simulator_public_url=simulators.get("publicBaseUrl"),
        connect_timeout=float(timeouts.get("connectSeconds", 5)),
        read_timeout=float(timeouts.get("readSeconds", 30)),
        waivers=tuple(
            Waiver(
                requirement=w["requirement"],
                justification=w["justification"],
                expires=date.fromisoformat(w["expires"]),
                approved_by=w.get("approvedBy"),
            )
            for w in document.get("waivers", ())
        ),
        signer_files=_signer_files(document.get("signer"), source),
        source=source,
        sha256=sha256,
    )


def _signer_files(signer: Mapping[str, str] | None, source: str) -> tuple[str, str] | None:
    """The signer's chain and key files, relative paths taken from the configuration's folder."""
    if not signer:
        return None
    folder = Path(source).parent if Path(source).is_file() else Path.cwd()
    files = tuple(str(folder / signer[key]) for key in ("certificateChain", "privateKey"))
    for file in files:
        if not Path(file).is_file():
            raise ConfigError(f"{source}: signer: no such file {file}")
    return files[0], files[1]


def _resolve_secrets(spec: Mapping[str, Any], source: str) -> dict[str, Any]:
    resolved = dict(spec)
    for key in ("clientSecret", "token"):
        if key in resolved:
            resolved[key] = _secret(resolved[key], f"{source}: {key}")
    return resolved


def _secret(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    name = value["env"]
    found = os.environ.get(name)
    if not found:
        raise ConfigError(f"{where} reads the environment variable {name}, which is not set")
    return found


def _plain(node: Any) -> Any:
    """YAML dates become ISO strings, so the schema sees what a JSON file would hold."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, date):
        return node.isoformat()
    return node


def _pointer(path: Any) -> str:
    parts = [str(part).replace("~", "~0").replace("/", "~1") for part in path]
    return "/" + "/".join(parts) if parts else "/"
