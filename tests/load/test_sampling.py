"""Conformance under load: sampled responses are checked against the operation's responses."""

from __future__ import annotations

import json

from conformance.load.sampling import Sampler, check_response

AGENCY = {
    "code": "000.00.01.H22",
    "name": "UBND phường Hồng Hải",
    "level": "commune",
    "workingHours": {"periods": [{"start": "07:30", "end": "11:30"}]},
}
PROBLEM = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No such agency."}


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def test_a_body_that_keeps_the_contract_passes() -> None:
    """A getAgency 200 with a valid agency."""
    assert check_response("getAgency", 200, "application/json", body(AGENCY)) is None


def test_a_wrong_body_is_caught_with_its_pointer_and_rule() -> None:
    """A wrongly typed field is named by its JSON pointer."""
    wrong = {**AGENCY, "workingHours": {"periods": [{"start": 730, "end": "11:30"}]}}
    found = check_response("getAgency", 200, "application/json; charset=utf-8", body(wrong))
    assert found is not None
    assert (found.operation, found.status, found.pointer, found.rule) == (
        "getAgency",
        200,
        "/workingHours/periods/0/start",
        "type",
    )


def test_error_responses_are_checked_through_their_shared_ref() -> None:
    """``$ref: '#/components/responses/NotFound'`` resolves inside the operation's spec."""
    assert check_response("getAgency", 404, "application/problem+json", body(PROBLEM)) is None
    found = check_response("getAgency", 404, "application/problem+json", body({"title": 1}))
    assert found is not None
    assert found.rule in ("required", "type")


def test_an_undeclared_status_is_a_violation() -> None:
    """A 500 (or any status the operation does not declare) breaks the contract."""
    found = check_response("submitDossier", 500, "application/problem+json", body(PROBLEM))
    assert found is not None
    assert "HTTP 500 is not declared" in found.error


def test_an_undeclared_media_type_or_unreadable_json_is_a_violation() -> None:
    """A problem served as text/html, or a JSON media type with no JSON in it."""
    html = check_response("getAgency", 404, "text/html", b"<h1>Not found</h1>")
    assert html is not None
    assert "'text/html' is not declared" in html.error
    broken = check_response("getAgency", 200, "application/json", b"{")
    assert broken is not None
    assert "not JSON" in broken.error


def test_files_are_checked_by_media_type_and_204_by_emptiness() -> None:
    """Downloads carry no schema to validate; 204 must be empty."""
    assert check_response("downloadComponent", 200, "application/pdf", b"%PDF-1.4") is None
    assert check_response("deleteDossier", 204, None, b"") is None
    assert check_response("deleteDossier", 204, "application/json", b"{}") is not None


def test_unknown_operations_are_not_judged() -> None:
    """Requests not named by an operationId of the contract pass through."""
    assert check_response("signIn", 500, "text/plain", b"oops") is None


def test_sampler_checks_the_first_response_of_each_operation_then_one_in_n() -> None:
    """1 in 3: the 1st, 4th and 7th of getAgency, and the first of getCalendar."""
    sampler = Sampler(3)
    picked = [sampler.wants("getAgency") for _ in range(7)]
    assert picked == [True, False, False, True, False, False, True]
    assert sampler.wants("getCalendar") is True
    assert Sampler(0).wants("getAgency") is False


def test_sampler_keeps_violations_until_drained() -> None:
    """Drained parts travel from workers to the master and start over."""
    sampler = Sampler(1)
    sampler.check("getAgency", 200, "application/json", body(AGENCY))
    sampler.check("getAgency", 200, "application/json", body({"code": "x"}))
    part = sampler.drain()
    assert part["sampled"] == 2
    assert part["violationCount"] == 1
    assert part["violations"][0]["operation"] == "getAgency"
    assert sampler.drain() == {"sampled": 0, "skipped": 0, "violationCount": 0, "violations": []}


def test_sampler_keeps_checking_within_its_share_of_the_generators_time() -> None:
    """Over budget, the 1-in-N responses go unchecked and counted; the first of each never."""
    # The clock as read by: the start, the check's start and end, then two budget decisions.
    readings = iter([0.0, 0.0, 1.0, 1.0, 100.0])
    sampler = Sampler(1, budget=0.05, clock=lambda: next(readings))
    assert sampler.wants("getAgency")
    sampler.check("getAgency", 200, "application/json", body(AGENCY))  # took the 1st second
    assert sampler.wants("getAgency") is False  # 1 s of checking in 1 s: far over 5 %
    assert sampler.wants("getCalendar") is True  # the first of an operation is always checked
    assert sampler.wants("getAgency") is True  # 1 s in 100 s is within 5 % again
    assert sampler.drain()["skipped"] == 1
