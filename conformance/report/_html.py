"""The report as one self-contained HTML page, in English or Vietnamese.

No script, no external resource: inline CSS and ``<details>`` for the exchanges, so the page
reads the same from an e-mail attachment years later. A Content-Security-Policy forbids
scripts outright, and every value from the report goes through `html.escape`: bodies come from
the target, and a target may be hostile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from ._i18n import WORDS, Words, localise_reason

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
margin:0 auto;max-width:1200px;padding:1.5rem;color:#1d232a;background:#fff}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{margin-top:2.2rem;border-bottom:2px solid #d8dee4}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d8dee4;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.8rem 0}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.verdicts{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.verdict{border-radius:8px;padding:1rem 1.4rem;min-width:16rem;color:#fff}
.verdict .v{font-size:1.9rem;font-weight:800;line-height:1.1}
.verdict.certifiable{background:#1a7f37}.verdict.not-certifiable{background:#cf222e}
.badge{display:inline-block;border-radius:4px;padding:0 .45rem;font-weight:600;color:#fff;
white-space:nowrap}
.passed{background:#1a7f37}.failed{background:#cf222e}.warning{background:#bf8700}
.skipped{background:#6e7781}.waived{background:#0969da}.error{background:#8250df}
.not-tested{background:#afb8c1;color:#1d232a}
.evidence{border:1px solid #d8dee4;border-left:6px solid #cf222e;border-radius:6px;
padding:.5rem 1rem;margin:1rem 0}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;white-space:pre-wrap;
word-break:break-word;margin:.3rem 0}
details{margin:.4rem 0}summary{cursor:pointer;font-family:ui-monospace,monospace}
tr.gap td{background:#fff1f0}.muted{color:#57606a}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_OTHER_PAGE = {"en": "report.vi.html", "vi": "report.html"}


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _badge(outcome: str, words: Words) -> str:
    return f'<span class="badge {_e(outcome)}">{_e(words.outcomes.get(outcome, outcome))}</span>'


def _body(body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, indent=2)
    return f"<pre>{_e(text)}</pre>"


def _meta(rows: Iterable[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="meta">{items}</dl>'


def _header(report: Mapping[str, Any], w: Words) -> str:
    target = report["target"]
    specs = ", ".join(f"{_e(s['name'])} {_e(s['version'])}" for s in report["contract"]["specs"])
    urls = "<br>".join(f"{_e(k)}: {_e(v)}" for k, v in target["baseUrls"].items())
    named = [_e(target["name"])] + [_e(target[k]) for k in ("version",) if k in target]
    seeds = ", ".join(f"{_e(k)}={_e(v)}" for k, v in report["seeds"].items())
    env = report["environment"]
    deps = ", ".join(f"{_e(k)} {_e(v)}" for k, v in env["dependencies"].items())
    rows = [
        (w.target, " ".join(named)),
        *([(w.vendor, _e(target["vendor"]))] if "vendor" in target else []),
        (w.base_urls, urls),
        (w.capabilities, _e(", ".join(target.get("capabilities", ())) or w.none)),
        (w.kit, f"{_e(report['kit']['name'])} {_e(report['kit']['version'])}"),
        (w.catalogue, _e(report["contract"]["catalogueVersion"])),
        (w.specs, specs),
        (w.started, _e(report["startedAt"])),
        (w.finished, _e(report["finishedAt"])),
        (w.duration, _e(f"{report['summary']['durationMs'] / 1000:.1f} s")),
        (w.seeds, seeds),
        (w.environment, f"Python {_e(env['python'])}, {_e(env['platform'])}; {deps}"),
    ]
    return f"<h1>{_e(w.title)}</h1>{_meta(rows)}"


def _verdicts(report: Mapping[str, Any], w: Words) -> str:
    cards = []
    for profile in report["profiles"]:
        name, verdict = profile["name"], profile["verdict"]
        blocking = ", ".join(_e(b) for b in profile.get("blocking", ()))
        counts = " · ".join(
            f"{_e(w.outcomes[k])} {_e(v)}" for k, v in profile["counts"].items() if v
        )
        cards.append(
            f'<div class="verdict {_e(verdict)}"><div>{_e(name)} — '
            f"{_e(w.profile_names.get(name, name))}</div>"
            f'<div class="v">{_e(w.verdict_names[verdict])}</div><div>{counts}</div>'
            + (f"<div>{_e(w.blocking)}: {blocking}</div>" if blocking else "")
            + "</div>"
        )
    return f'<h2>{_e(w.verdicts)}</h2><div class="verdicts">{"".join(cards)}</div>'


def _summary(report: Mapping[str, Any], w: Words) -> str:
    summary = report["summary"]
    cells = [
        (w.requirements_count, summary["requirements"]),
        (w.tests_count, summary["tests"]),
        *((w.outcomes[k], v) for k, v in summary["counts"].items()),
        (w.not_tested_count, summary.get("notTested", 0)),
    ]
    head = "".join(f"<th>{_e(name)}</th>" for name, _ in cells)
    row = "".join(f'<td class="n">{_e(value)}</td>' for _, value in cells)
    return f"<h2>{_e(w.summary)}</h2><table><tr>{head}</tr><tr>{row}</tr></table>"


def _has_evidence(requirement: Mapping[str, Any]) -> bool:
    return any("failure" in test for test in requirement["tests"])


def _requirements(report: Mapping[str, Any], w: Words) -> str:
    columns = (w.col_id, w.col_level, w.col_title, w.col_source, w.col_outcome)
    head = "".join(f"<th>{_e(c)}</th>" for c in (*columns, w.col_duration, w.col_reason))
    rows = []
    for r in report["requirements"]:
        ident = _e(r["id"])
        if _has_evidence(r):
            ident = f'<a href="#ev-{ident}">{ident}</a>'
        reason = localise_reason(r.get("reason", ""), w.lang)
        rows.append(
            f"<tr><td>{ident}</td><td>{_e(w.levels.get(r['level'], r['level']))}</td>"
            f"<td>{_e(r['title'][w.lang])}</td><td>{_e(_source(r, w.lang))}</td>"
            f"<td>{_badge(r['outcome'], w)}</td><td class='n'>{_e(r['durationMs'])}</td>"
            f"<td>{_e(reason)}</td></tr>"
        )
    return f"<h2>{_e(w.requirements)}</h2><table><tr>{head}</tr>{''.join(rows)}</table>"


def _headers(headers: Mapping[str, str]) -> str:
    return _body("\n".join(f"{name}: {value}" for name, value in headers.items()))


def _exchange(exchange: Mapping[str, Any], w: Words) -> str:
    request, response = exchange["request"], exchange.get("response")
    status = _e(response["status"]) if response is not None else _e(w.no_response)
    parts = [f"<h4>{_e(w.request)}</h4><p><b>{_e(w.headers)}</b></p>"]
    parts.append(_headers(request["headers"]))
    if "body" in request:
        parts.append(f"<p><b>{_e(w.body)}</b></p>{_body(request['body'])}")
    if response is not None:
        parts.append(f"<h4>{_e(w.response)} {status}</h4><p><b>{_e(w.headers)}</b></p>")
        parts.append(_headers(response["headers"]))
        if "body" in response:
            parts.append(f"<p><b>{_e(w.body)}</b></p>{_body(response['body'])}")
    line = f"{_e(request['method'])} {_e(request['url'])} → {status} ({exchange['elapsedMs']} ms)"
    return f"<details><summary>{line}</summary>{''.join(parts)}</details>"


def _waiver(waiver: Mapping[str, Any], w: Words) -> str:
    rows = [(w.justification, _e(waiver["justification"])), (w.expires, _e(waiver["expires"]))]
    if "approvedBy" in waiver:
        rows.append((w.approved_by, _e(waiver["approvedBy"])))
    return f"<p><b>{_e(w.waiver)}</b></p>{_meta(rows)}"


def _evidence(report: Mapping[str, Any], w: Words) -> str:
    blocks = []
    for r in filter(_has_evidence, report["requirements"]):
        parts = [
            f'<div class="evidence" id="ev-{_e(r["id"])}"><h3>{_e(r["id"])} '
            f"{_e(r['title'][w.lang])} {_badge(r['outcome'], w)}</h3>"
        ]
        if "waiver" in r:
            parts.append(_waiver(r["waiver"], w))
        for test in (t for t in r["tests"] if "failure" in t):
            failure = test["failure"]
            named = f'{_e(test.get("title", ""))} <span class="muted">{_e(test["name"])}</span>'
            rows = [
                (w.test, named),
                (w.col_outcome, _badge(test["outcome"], w)),
                (w.message, _e(failure["message"])),
                (w.expected, _e(failure["expected"])),
                (w.actual, _e(failure["actual"])),
            ]
            if "specRef" in failure:
                rows.append((w.spec_ref, _e(failure["specRef"])))
            parts.append(_meta(rows))
            if failure["exchanges"]:
                parts.append(f"<p><b>{_e(w.exchanges)}</b></p>")
                parts.extend(_exchange(x, w) for x in failure["exchanges"])
        blocks.append("".join(parts) + "</div>")
    content = "".join(blocks) or f"<p>{_e(w.no_failures)}</p>"
    return f"<h2>{_e(w.evidence)}</h2>{content}"


def _coverage(report: Mapping[str, Any], w: Words) -> str:
    head = "".join(
        f"<th>{_e(c)}</th>" for c in (w.col_id, w.col_level, w.col_tests, w.col_not_testable)
    )
    rows = []
    for c in report["coverage"]:
        gap = c["level"] == "MUST" and not c["tests"] and "notTestable" not in c
        note = c.get("notTestable") or (w.uncovered if gap else "")
        row = '<tr class="gap">' if gap else "<tr>"
        rows.append(
            f"{row}<td>{_e(c['requirement'])}</td>"
            f"<td>{_e(w.levels.get(c['level'], c['level']))}</td>"
            f"<td class='n'>{_e(c['tests'])}</td><td>{_e(note)}</td></tr>"
        )
    return f"<h2>{_e(w.coverage)}</h2><table><tr>{head}</tr>{''.join(rows)}</table>"


def _source(requirement: Mapping[str, Any], lang: str) -> str:
    """The legal source in the page's language, when the report has it in that language."""
    if lang == "vi" and requirement.get("sourceVi"):
        return str(requirement["sourceVi"])
    return str(requirement["source"])


def render_html(report: Mapping[str, Any], lang: str = "en") -> str:
    """The report as one HTML page in ``lang`` (``en`` or ``vi``)."""
    w = WORDS[lang]
    kit = f"{report['kit']['name']} {report['kit']['version']}"
    return (
        f'<!DOCTYPE html>\n<html lang="{w.lang}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(w.title)} — {_e(report['target']['name'])}</title>"
        f"<style>{_CSS}</style></head><body>"
        f'<p class="muted"><a href="{_OTHER_PAGE[w.lang]}">{_e(w.other_language)}</a></p>'
        + _header(report, w)
        + _verdicts(report, w)
        + _summary(report, w)
        + _requirements(report, w)
        + _evidence(report, w)
        + _coverage(report, w)
        + f'<p class="muted">{_e(w.generated_by)} {_e(kit)}</p></body></html>\n'
    )
