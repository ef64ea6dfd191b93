"""Stored records identify their origin, destination and time (Decree 45/2020/ND-CP Art. 17)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from conformance.checks import expect, expect_conforms, expect_status
from conformance.scenario import Portal

REFUSAL = "Hồ sơ thuộc thẩm quyền của UBND nơi cư trú của cha hoặc mẹ; đề nghị nộp tại nơi đó."
OFFICER_ACTIONS = {"acceptDossier", "startProcessing", "resolveDossier", "refuseDossier"}


def history_of(portal: Portal, dossier_id: str) -> list[dict[str, Any]]:
    """Every entry of ``getDossierHistory``, page after page (oldest first)."""
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    for _ in range(10):
        answer = portal.call(
            "GET", "dossiers", f"/dossiers/{dossier_id}/history", as_="applicantA", params=params
        )
        page = expect_conforms("STO-03", "getDossierHistory", answer)
        expect_status("STO-03", answer, 200, why="the applicant reads the dossier's history")
        entries.extend(e for e in page.get("items", []) if isinstance(e, dict))
        if not page.get("nextCursor"):
            break
        params = {"limit": 100, "cursor": page["nextCursor"]}
    return entries


def moves(entries: list[dict[str, Any]]) -> list[tuple[str | None, str | None]]:
    """The status changes among the history's entries."""
    return [
        (e.get("fromStatus"), e.get("toStatus"))
        for e in entries
        if e.get("toStatus") and e.get("toStatus") != e.get("fromStatus")
    ]


@pytest.mark.requirement("STO-03")
def test_get_dossier_history_records_every_move_with_time_and_actor(
    portal: Portal, returned_result: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Each component, status change and result says who, to which agency and when."""
    dossier, result = returned_result
    read = portal.get(dossier["id"])
    expect(
        "STO-03",
        read.get("agencyCode") == portal.agency and bool(read.get("applicant")),
        f"the dossier names its applicant and the agency it is addressed to ({portal.agency})",
        f"agencyCode {read.get('agencyCode')!r}, applicant {read.get('applicant')!r}",
    )
    for component in read.get("components", []):
        expect(
            "STO-03",
            bool(component.get("addedAt")) and bool(component.get("source")),
            "every component says when and how it was sent (addedAt, source)",
            repr(component)[:300],
        )
    entries = history_of(portal, dossier["id"])
    wanted = ["submitted", "received", "in-process", "processed", "returned"]
    seen = moves(entries)
    reached = [to for _, to in seen]
    expect(
        "STO-03",
        all(status in reached for status in wanted),
        f"the history lists every status change made, to {wanted}",
        f"it lists {seen}",
    )
    times = []
    for entry in entries:
        actor = entry.get("actor") or {}
        expect(
            "STO-03",
            bool(entry.get("at")) and bool(actor.get("role")),
            "every history entry with its time and actor",
            repr(entry)[:300],
        )
        times.append(datetime.fromisoformat(str(entry["at"])))
        if entry.get("action") in OFFICER_ACTIONS:
            expect(
                "STO-03",
                actor.get("role") == "officer",
                f"{entry['action']} recorded as the officer's act",
                repr(actor),
            )
        if entry.get("action") == "submitDossier":
            expect(
                "STO-03",
                actor.get("role") == "applicant",
                "the submission recorded as the applicant's act",
                repr(actor),
            )
    expect(
        "STO-03",
        times == sorted(times),
        "entries in the order they happened",
        f"times {[t.isoformat() for t in times]}",
    )
    expect(
        "STO-03",
        result.get("agencyCode") == portal.agency
        and bool(result.get("issuedAt"))
        and bool((result.get("holder") or {}).get("name")),
        "the result names its issuing agency, its holder and when it was issued",
        f"agencyCode {result.get('agencyCode')!r}, issuedAt {result.get('issuedAt')!r}, "
        f"holder {result.get('holder')!r}",
    )


@pytest.mark.requirement("STO-03")
def test_get_dossier_history_keeps_the_reason_of_a_refusal(portal: Portal) -> None:
    """A refusal's history entry records the officer, the time and the reason given."""
    dossier = portal.submitted()
    portal.step("STO-03", dossier["id"], "refusal", {"reason": REFUSAL})
    entries = history_of(portal, dossier["id"])
    refusal = [e for e in entries if e.get("toStatus") == "refused"]
    expect(
        "STO-03",
        len(refusal) == 1,
        "one history entry of the refusal",
        f"{len(refusal)} entries to refused",
    )
    entry = refusal[0]
    expect(
        "STO-03",
        entry.get("reason") == REFUSAL
        and (entry.get("actor") or {}).get("role") == "officer"
        and bool(entry.get("at")),
        "the refusal with its reason as given, its officer and its time",
        repr(entry)[:400],
    )
