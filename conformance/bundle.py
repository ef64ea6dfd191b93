"""The certification bundle: one zip a vendor hands to the regulator, and its offline check.

``bundle`` packs the four reports of a run, the target configuration with every literal secret
replaced by ``***`` (``{env: NAME}`` references kept: they name a variable, not its value) and
``manifest.json``: the sha256 and size of every file, the kit, the time, the verdicts and
``certifiable``. ``verify-bundle`` checks all of it without the network.

What this proves: the manifest is tamper-evident, not tamper-proof. Editing a file without
rewriting the manifest is caught; someone who rewrites the manifest too is not, since anybody
can compute a sha256. The stronger guarantee is the manifest's own digest, which ``bundle``
prints for the regulator to record out of band (a submission form, a letter): with
``--manifest-sha256`` the check then also proves that the bundle is the one handed over. A
signature by the vendor or an accredited lab would bind it to a signer as well; the kit does
not sign.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import yaml

from egov_contract import contract

from .config import sandbox_target

BUNDLE_VERSION = "1.0"
MANIFEST = "manifest.json"
REPORT_FILES = ("report.json", "junit.xml", "report.html", "report.vi.html")
MASK = "***"
VALID, TAMPERED, UNREADABLE = 0, 1, 2
_SECRET_KEYS = frozenset({"clientSecret", "token"})
_URL_KEYS = frozenset({"baseUrl", "tokenUrl", "redirectUri", "publicBaseUrl"})


class BundleError(Exception):
    """The bundle cannot be made or read; the message says why."""


def add_bundle_commands(commands: Any) -> None:
    """Register ``bundle`` and ``verify-bundle``."""
    make = commands.add_parser(
        "bundle",
        help="pack a run's reports and its configuration (secrets removed) for the regulator",
        description="Pack report.json, junit.xml, report.html, report.vi.html, the target "
        "configuration with its literal secrets replaced by *** and manifest.json (sha256 of "
        "every file, verdicts) into one zip, and print the manifest's sha256 for the regulator "
        "to record separately. Exit 0 when written, 2 when it cannot be.",
    )
    make.add_argument("--report", required=True, type=Path, help="the run's report directory")
    make.add_argument(
        "--target", required=True, help="the configuration file (or base URL) the run used"
    )
    make.add_argument("--out", required=True, type=Path, help="the zip to write")
    make.set_defaults(handler=_bundle)
    check = commands.add_parser(
        "verify-bundle",
        help="check a certification bundle offline",
        description="Check offline that every file of a bundle is listed in its manifest with "
        "the right sha256, that no file is unlisted, and that the manifest agrees with "
        "report.json. Exit 0 valid, 1 tampered, 2 unreadable.",
    )
    check.add_argument("bundle", type=Path, help="the bundle (.zip)")
    check.add_argument(
        "--manifest-sha256",
        metavar="HEX",
        help="the manifest digest recorded when the bundle was handed over",
    )
    check.set_defaults(handler=_verify)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- the configuration, secrets removed --------------------------------------------------


def _mask_url(url: str) -> tuple[str, str | None]:
    """``url`` with the password of its userinfo masked, and that password (None: none)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon:
        return url, None
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}")), password


def _redact(node: Any, path: str, found: dict[str, str]) -> Any:
    """A copy of ``node`` with literal secrets masked; ``found`` maps each pointer to the secret."""
    if isinstance(node, dict):
        copy: dict[Any, Any] = {}
        for key, value in node.items():
            where = f"{path}/{key}"
            secret = key in _SECRET_KEYS or path == "/secrets"
            if secret and isinstance(value, str):
                found[where], copy[key] = value, MASK
            elif (key in _URL_KEYS or path == "/interfaces") and isinstance(value, str):
                copy[key], password = _mask_url(value)
                if password:
                    found[where] = password
            else:
                copy[key] = _redact(value, where, found)
        return copy
    if isinstance(node, list):
        return [_redact(item, f"{path}/{index}", found) for index, item in enumerate(node)]
    return node


@dataclass(frozen=True)
class RedactedConfig:
    """A configuration file as the bundle holds it."""

    name: str
    data: bytes
    source_sha256: str
    redacted: dict[str, str]
    """JSON pointer → the literal secret that was masked there (never written anywhere)."""


def redact_config(path: Path) -> RedactedConfig:
    """The file at ``path`` with every literal secret masked (``{env: NAME}`` kept)."""
    try:
        raw = path.read_bytes()
        document = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as problem:
        raise BundleError(f"{path}: not a readable configuration ({problem})") from None
    found: dict[str, str] = {}
    masked = _redact(document, "", found)
    if path.suffix.lower() == ".json":
        data = (json.dumps(masked, ensure_ascii=False, indent=2) + "\n").encode()
        name = "target-config.json"
    else:
        data = yaml.safe_dump(masked, allow_unicode=True, sort_keys=False).encode()
        name = "target-config.yaml"
    return RedactedConfig(name, data, _sha256(raw), found)


# ---- making the bundle -------------------------------------------------------------------


def make_bundle(report_dir: Path, target: str, out: Path) -> str:
    """Write the bundle of the run in ``report_dir`` to ``out``; the manifest's sha256.

    Raises:
        BundleError: a report file is missing, ``target`` is not the configuration of the
            report, or a secret of the configuration appears in a report.
    """
    files: dict[str, bytes] = {}
    for name in REPORT_FILES:
        try:
            files[name] = (report_dir / name).read_bytes()
        except OSError:
            raise BundleError(
                f"{report_dir / name} is missing: bundle the directory of a run "
                "(`egov-conformance run --report DIR`)"
            ) from None
    try:
        report = json.loads(files["report.json"])
    except ValueError:
        raise BundleError(f"{report_dir / 'report.json'} is not JSON") from None
    config: RedactedConfig | None = None
    if target.startswith(("http://", "https://")):
        config_sha256 = sandbox_target(target).sha256
    else:
        config = redact_config(Path(target))
        config_sha256 = config.source_sha256
        files[config.name] = config.data
    recorded = report.get("target", {}).get("configSha256")
    if config_sha256 != recorded:
        raise BundleError(
            f"{target} is not the configuration the report was made with (its "
            f"sha256 is {config_sha256[:12]}…, the report's {str(recorded)[:12]}…)"
        )
    _refuse_leaks(files, config)
    manifest = _manifest(report, files, config)
    data = (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)
            archive.writestr(MANIFEST, data)
    except OSError as problem:
        raise BundleError(f"{out}: cannot be written ({problem})") from None
    return _sha256(data)


def _refuse_leaks(files: dict[str, bytes], config: RedactedConfig | None) -> None:
    # The reports are scrubbed when written; this is the last look before the bundle leaves.
    secrets = [s for s in (config.redacted.values() if config else ()) if len(s) >= 4]
    for name, content in files.items():
        text = content.decode("utf-8", "replace")
        if any(secret in text for secret in secrets):
            raise BundleError(f"{name} holds a secret of the configuration; no bundle written")


def _certifiable(report: dict[str, Any]) -> bool:
    verdicts = [profile.get("verdict") for profile in report.get("profiles", ())]
    return bool(verdicts) and all(v == "certifiable" for v in verdicts)


def _manifest(
    report: dict[str, Any], files: dict[str, bytes], config: RedactedConfig | None
) -> dict[str, Any]:
    target = report.get("target", {})
    return {
        "bundleVersion": BUNDLE_VERSION,
        "createdAt": datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).isoformat(timespec="seconds"),
        "kit": {"name": "egov-conformance", "version": version("egov-conformance")},
        "report": {
            "kitVersion": report.get("kit", {}).get("version"),
            "startedAt": report.get("startedAt"),
            "finishedAt": report.get("finishedAt"),
        },
        "target": {
            "name": target.get("name"),
            "configSha256": target.get("configSha256"),
            "configFile": config.name if config else None,
            "redacted": sorted(config.redacted) if config else [],
        },
        "profiles": [
            {"name": p.get("name"), "verdict": p.get("verdict")} for p in report.get("profiles", ())
        ],
        "certifiable": _certifiable(report),
        "files": [
            {"path": name, "sha256": _sha256(content), "bytes": len(content)}
            for name, content in sorted(files.items())
        ],
    }


# ---- verifying it ------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The result of `verify_bundle`: the exit code, what was wrong, and the manifest digest."""

    code: int
    problems: tuple[str, ...]
    manifest_sha256: str | None = None


def verify_bundle(path: Path, manifest_sha256: str | None = None) -> Verdict:
    """Check the bundle at ``path`` offline (see the module docstring for what it proves)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            contents = {name: archive.read(name) for name in names}
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as problem:
        return Verdict(UNREADABLE, (f"{path}: not a readable zip ({problem})",))
    data = contents.get(MANIFEST, b"")
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        return Verdict(UNREADABLE, (f"{path}: no readable {MANIFEST}; not a bundle",))
    digest = _sha256(data)
    found = list(_tampering(names, contents, manifest))
    if manifest_sha256 and manifest_sha256.strip().lower() != digest:
        found.append(f"{MANIFEST} has sha256 {digest}, not the {manifest_sha256} recorded")
    return Verdict(TAMPERED if found else VALID, tuple(found), digest)


def _tampering(
    names: list[str], contents: dict[str, bytes], manifest: dict[str, Any]
) -> Iterator[str]:
    if len(set(names)) != len(names):
        yield "the zip holds two entries of one name"
    listed: dict[str, dict[str, Any]] = {}
    for entry in manifest["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            yield f"{MANIFEST} lists a file without a path"
            continue
        listed[entry["path"]] = entry
    for name in sorted(set(names) - set(listed) - {MANIFEST}):
        yield f"{name} is in the bundle but not in the manifest"
    for name, entry in sorted(listed.items()):
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts:
            yield f"{MANIFEST} lists a path outside the bundle: {name}"
        elif name not in contents:
            yield f"{name} is listed in the manifest but missing"
        elif _sha256(contents[name]) != entry.get("sha256"):
            yield f"{name} does not have the sha256 the manifest lists (changed after bundling)"
    if "report.json" not in listed or "report.json" not in contents:
        yield "the bundle has no report.json"
        return
    yield from _agrees_with_report(contents["report.json"], manifest)


def _agrees_with_report(data: bytes, manifest: dict[str, Any]) -> Iterator[str]:
    try:
        report = json.loads(data)
    except ValueError:
        yield "report.json is not JSON"
        return
    if next(contract().schema_validator("report.json").iter_errors(report), None) is not None:
        yield "report.json is not a valid report (schemas/report.json)"
        return
    verdicts = [{"name": p["name"], "verdict": p["verdict"]} for p in report["profiles"]]
    if manifest.get("profiles") != verdicts:
        yield "the manifest's profiles and verdicts are not report.json's"
    if manifest.get("certifiable") is not _certifiable(report):
        yield "the manifest's certifiable does not follow from report.json's verdicts"
    if _certifiable(report) and report["summary"]["failedMust"]:
        yield "report.json says certifiable although MUSTs failed"
    for profile in report["profiles"]:
        if (profile["verdict"] == "certifiable") == bool(profile.get("blocking")):
            yield f"report.json's verdict of {profile['name']} contradicts its blocking list"
    if _inner(manifest, "target", "configSha256") != report["target"]["configSha256"]:
        yield "the manifest's configSha256 is not report.json's"
    if _inner(manifest, "report", "kitVersion") != report["kit"]["version"]:
        yield "the manifest's kit version is not report.json's"


def _inner(manifest: dict[str, Any], section: str, key: str) -> Any:
    # A tampered manifest may hold anything where an object belongs: that is a finding.
    found = manifest.get(section)
    return found.get(key) if isinstance(found, dict) else None


# ---- the commands ------------------------------------------------------------------------


def _bundle(arguments: argparse.Namespace) -> int:
    try:
        digest = make_bundle(arguments.report, arguments.target, arguments.out)
    except BundleError as problem:
        print(f"egov-conformance bundle: {problem}", file=sys.stderr)
        return UNREADABLE
    print(f"bundle: {arguments.out}")
    print(f"manifest sha256: {digest}")
    print(
        "give this digest to the regulator separately from the bundle (a form, a letter): "
        "with it, verify-bundle --manifest-sha256 proves the bundle is the one handed over"
    )
    return VALID


def _verify(arguments: argparse.Namespace) -> int:
    verdict = verify_bundle(arguments.bundle, arguments.manifest_sha256)
    for problem in verdict.problems:
        print(f"✗ {problem}")
    if verdict.code == VALID:
        print(
            f"✓ {arguments.bundle}: every file as listed, none unlisted, manifest agrees "
            "with report.json"
        )
    if verdict.manifest_sha256:
        matched = arguments.manifest_sha256 and verdict.code == VALID
        print(
            f"manifest sha256: {verdict.manifest_sha256}"
            + (" (the digest recorded out of band)" if matched else "")
        )
        if not arguments.manifest_sha256:
            print(
                "compare it with the digest the vendor gave separately: only that proves "
                "the manifest itself was not rewritten"
            )
    return verdict.code
