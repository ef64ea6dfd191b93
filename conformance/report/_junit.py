"""The report as JUnit XML, for the test tab of Jenkins, GitLab and their kind.

One ``<testsuite>`` per requirement area (``RCV``, ``SEC`` …), in catalogue order, so every
requirement appears exactly once however many profiles list it, and CI counts are not
multiplied. One ``<testcase>`` per (requirement, test) pair, named ``"<ID> <test title>"`` with
``classname="<area>.<ID>"``; a requirement no test ran gets one testcase of its own.

Mapping: ``failed`` and ``warning`` are ``<failure type="failed|warning">`` (a SHOULD that is
violated should still show in CI; Jenkins marks such a build unstable, and the exit code says
whether certification fails); ``error`` is ``<error>``; ``skipped``, ``not-tested`` and
``waived`` are ``<skipped>`` with the reason. Expected, actual and the spec reference are the
failure's text; the HTTP exchanges go to ``<system-out>``.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

# XML 1.0 cannot carry most control characters even escaped; a hostile body may hold them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _body(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)


def _headers(headers: Mapping[str, str]) -> list[str]:
    return [f"{name}: {value}" for name, value in headers.items()]


def exchange_text(exchange: Mapping[str, Any]) -> str:
    """One exchange as readable text: request line, headers, body, then the response."""
    request = exchange["request"]
    lines = [f"> {request['method']} {request['url']}", *_headers(request["headers"])]
    if "body" in request:
        lines += ["", _body(request["body"])]
    response = exchange.get("response")
    if response is None:
        lines += ["", f"< no response after {exchange['elapsedMs']} ms"]
    else:
        lines += ["", f"< {response['status']} ({exchange['elapsedMs']} ms)"]
        lines += _headers(response["headers"])
        if "body" in response:
            lines += ["", _body(response["body"])]
    return "\n".join(lines)


def _failure_text(failure: Mapping[str, Any]) -> str:
    lines = [f"Expected: {failure['expected']}", f"Actual:   {failure['actual']}"]
    if "specRef" in failure:
        lines.append(f"Spec:     {failure['specRef']}")
    return "\n".join(lines)


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _set(element: ET.Element, **attributes: str) -> None:
    for name, value in attributes.items():
        element.set(name, _clean(value))


def _testcase(requirement: Mapping[str, Any], test: Mapping[str, Any] | None) -> ET.Element:
    ident = requirement["id"]
    case = ET.Element("testcase")
    if test is None:
        _set(case, name=f"{ident} {requirement['title']['en']}", time="0.000")
        outcome = requirement["outcome"]
        message = requirement.get("reason", outcome)
    else:
        _set(case, name=f"{ident} {test.get('title') or test['name']}")
        _set(case, time=_seconds(test["durationMs"]), file=test["name"].partition("::")[0])
        outcome = test["outcome"]
        message = test.get("skipReason") or requirement.get("reason") or outcome
    case.set("classname", _clean(f"{ident.partition('-')[0]}.{ident}"))
    failure = test.get("failure") if test is not None else None
    overall = requirement["outcome"]
    # The requirement's verdict overrides a test's where it excuses it: a waived failure, or a
    # stray test of a capability the target does not claim.
    if overall == "waived" and outcome in ("failed", "warning"):
        message, outcome = f"{outcome}, {requirement['reason']}", "skipped"
    elif overall == "skipped" and outcome != "skipped":
        message, outcome = requirement["reason"], "skipped"
    if outcome in ("skipped", "not-tested"):
        _set(ET.SubElement(case, "skipped"), message=message)
    elif outcome in ("failed", "warning") and failure is not None:
        element = ET.SubElement(case, "failure")
        _set(element, message=failure["message"], type=outcome)
        element.text = _clean(_failure_text(failure))
    elif outcome == "error":
        element = ET.SubElement(case, "error")
        _set(element, message=message, type="error")
        element.text = _clean(message)
    if failure is not None and failure["exchanges"]:
        out = ET.SubElement(case, "system-out")
        out.text = _clean("\n\n".join(exchange_text(e) for e in failure["exchanges"]))
    return case


def _properties(report: Mapping[str, Any]) -> ET.Element:
    properties = ET.Element("properties")
    values = {
        "kit.version": report["kit"]["version"],
        "catalogue.version": report["contract"]["catalogueVersion"],
        "target.name": report["target"]["name"],
        "seed.run": str(report["seeds"]["run"]),
        **{f"verdict.{p['name']}": p["verdict"] for p in report["profiles"]},
    }
    for name, value in values.items():
        _set(ET.SubElement(properties, "property"), name=name, value=str(value))
    return properties


def _areas(requirements: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    areas: dict[str, list[Mapping[str, Any]]] = {}
    for requirement in requirements:
        areas.setdefault(requirement["id"].partition("-")[0], []).append(requirement)
    return areas


def _tally(element: ET.Element, cases: list[ET.Element], ms: int) -> None:
    def count(tag: str) -> str:
        return str(sum(case.find(tag) is not None for case in cases))

    _set(element, tests=str(len(cases)), failures=count("failure"), errors=count("error"))
    _set(element, skipped=count("skipped"), time=_seconds(ms))


def render_junit(report: Mapping[str, Any]) -> bytes:
    """The report as a JUnit XML document (UTF-8, with its declaration)."""
    root = ET.Element("testsuites")
    _set(root, name=f"egov-conformance {report['target']['name']}")
    # The JUnit schema's timestamp has no offset; it is Vietnam's local time like the report's.
    started = datetime.fromisoformat(report["startedAt"]).replace(tzinfo=None)
    every: list[ET.Element] = []
    total = 0
    for area, requirements in _areas(report["requirements"]).items():
        suite = ET.SubElement(root, "testsuite")
        _set(suite, name=area, timestamp=started.isoformat(timespec="seconds"))
        suite.append(_properties(report))
        cases = []
        for requirement in requirements:
            for test in requirement["tests"] or [None]:
                cases.append(_testcase(requirement, test))
        suite.extend(cases)
        ms = sum(r["durationMs"] for r in requirements)
        _tally(suite, cases, ms)
        every += cases
        total += ms
    _tally(root, every, total)
    ET.indent(root)
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue()
