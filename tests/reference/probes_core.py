"""Fault probes of the identity, catalogue and dossiers interfaces and of the error answers.

A probe is True when the server does what the requirement the fault names asks: the healthy
server must pass it and the faulty one fail it (test_faults.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from conformance.signatures import impostor, sandbox_signer, signed
from reference_impl.clock import VN_TZ
from reference_impl.signing import issue_jwt
from reference_impl.tokens import subject_claims

from .conftest import Server
from .flows import notifications, register, supplement_asked, supplemented
from .support import ok
from .test_dossiers import (
    AGENCY,
    APPLICANT,
    OTHER_APPLICANT,
    OTHER_OFFICER,
    PROCEDURE,
    REASON,
    act,
    attach,
    create,
    history,
    in_process,
    moved,
    read,
    sample_form,
    signed_upload,
    submitted,
    upload,
)

Probe = Callable[[Server], bool]
ORGANISATION = "5700101059"
PARTLY_ONLINE = "1.004227"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _lists_dossiers(server: Server, token: str) -> bool:
    """True when listDossiers refuses the token (401)."""
    return server.client.get("/dossiers", headers=_bearer(token)).status_code == 401


# ---- identity ------------------------------------------------------------------------------


def expired_token_refused(server: Server) -> bool:
    token = server.token(APPLICANT)
    server.clock.advance(timedelta(hours=2))
    return _lists_dossiers(server, token)


def _claims(server: Server, **changes: object) -> dict[str, object]:
    claims = subject_claims(server.services, APPLICANT)
    assert claims is not None
    now = int(server.clock.now().timestamp())
    issuer = server.services.settings.issuer
    return {**claims, "iss": issuer, "aud": "egov-portal", "iat": now, "exp": now + 600, **changes}


def wrong_audience_refused(server: Server) -> bool:
    token = issue_jwt(server.services.keys, _claims(server, aud="another-portal"))
    return _lists_dossiers(server, token)


def future_token_refused(server: Server) -> bool:
    now = int(server.clock.now().timestamp())
    token = issue_jwt(server.services.keys, _claims(server, iat=now + 3600, exp=now + 7200))
    return _lists_dossiers(server, token)


def forged_signature_refused(server: Server) -> bool:
    header, payload, signature = server.token(APPLICANT).split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    return _lists_dossiers(server, f"{header}.{payload}.{flipped}")


def organisation_registers_as_organisation(server: Server) -> bool:
    return register(server, ORGANISATION)["type"] == "organisation"


def identity_not_overwritten(server: Server) -> bool:
    register(server, APPLICANT)
    server.call("PATCH", "/accounts/me", who=APPLICANT, json={"personalId": "001203099999"})
    return ok(server.call("GET", "/accounts/me", who=APPLICANT))["personalId"] == APPLICANT


def tokens_verify_with_published_keys(server: Server) -> bool:
    configuration = ok(server.client.get("/.well-known/openid-configuration"))
    jwks = ok(server.client.get(configuration["jwks_uri"].removeprefix("http://testserver")))
    try:
        jwt.decode(server.token(APPLICANT), KeySet.import_key_set(jwks))
    except (JoseError, ValueError):
        return False
    return True


# ---- catalogue -----------------------------------------------------------------------------


def partly_online_says_why(server: Server) -> bool:
    procedure = ok(server.client.get(f"/procedures/{PARTLY_ONLINE}"))
    return procedure["onlineLevel"] == "partial" and "notFullyOnlineReason" in procedure


def form_published(server: Server) -> bool:
    return server.client.get(f"/procedures/{PROCEDURE}/form").status_code == 200


def search_matches_nfd(server: Server) -> bool:
    words = unicodedata.normalize("NFD", "đăng ký khai sinh")
    found = ok(server.client.get("/procedures", params={"q": words}))["items"]
    return PROCEDURE in [p["code"] for p in found]


def pages_yield_every_procedure(server: Server) -> bool:
    seen: list[str] = []
    params: dict[str, object] = {"limit": 2}
    while True:
        page = ok(server.client.get("/procedures", params=params))
        seen += [p["code"] for p in page["items"]]
        if page["nextCursor"] is None:
            break
        params["cursor"] = page["nextCursor"]
    return len(seen) == len(server.services.fixtures.procedures) == len(set(seen))


def agency_code_format(server: Server) -> bool:
    agency = ok(server.client.get(f"/agencies/{AGENCY}"))
    return re.fullmatch(r"[0-9A-Z]+(\.[0-9A-Z]+)*", agency["code"]) is not None


# ---- dossiers: submission ------------------------------------------------------------------


def incomplete_dossier_refused(server: Server) -> bool:
    dossier_id = ok(create(server), 201)["id"]
    return act(server, dossier_id, "submission", who=APPLICANT).status_code == 422


def every_reason_given(server: Server) -> bool:
    form = sample_form()
    del form["child"]["dateOfBirth"]
    body = {"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": form}
    dossier_id = ok(server.call("POST", "/dossiers", who=APPLICANT, json=body), 201)["id"]
    answer = act(server, dossier_id, "submission", who=APPLICANT)
    return answer.status_code == 422 and len(answer.json()["errors"]) == 3


def lying_file_refused(server: Server) -> bool:
    dossier_id = ok(create(server), 201)["id"]
    return attach(server, dossier_id, "TKKS", upload("lying.pdf")).status_code == 422


def _marriage_with(server: Server, file: dict[str, str]) -> int:
    """The status that decides a marriage dossier whose signed form is ``file``."""
    dossier_id = ok(create(server, procedure="1.000894"), 201)["id"]
    added = attach(server, dossier_id, "TKDKKH", file)
    if added.status_code != 201:
        return int(added.status_code)
    return int(act(server, dossier_id, "submission", who=APPLICANT).status_code)


def unsigned_form_refused(server: Server) -> bool:
    return _marriage_with(server, upload("sample.pdf")) == 422


def impostor_signature_refused(server: Server) -> bool:
    return _marriage_with(server, signed(upload("sample.pdf"), impostor())) == 422


def signature_of_another_file_refused(server: Server) -> bool:
    other = sandbox_signer().sign(b"%PDF-1.4 another file")
    return _marriage_with(server, {**upload("sample.pdf"), "signature": other}) == 422


def saturday_night_counts_from_monday(server: Server) -> bool:
    server.clock.set(datetime(2025, 3, 15, 22, 40, tzinfo=VN_TZ))
    return submitted(server)["officialReceiptTime"] == "2025-03-17T07:30:00+07:00"


def times_in_vietnam(server: Server) -> bool:
    dossier = submitted(server)
    return all(dossier[name].endswith("+07:00") for name in ("submittedAt", "officialReceiptTime"))


def appointment_on_working_day(server: Server) -> bool:
    server.clock.set(datetime(2025, 3, 21, 9, 0, tzinfo=VN_TZ))  # a Friday
    dossier = submitted(server)
    return moved(server, dossier["id"], "acceptance", {})["appointmentDate"] == "2025-03-24"


def code_format(server: Server) -> bool:
    code = submitted(server)["code"]
    return re.fullmatch(re.escape(AGENCY) + r"-250317-\d{4}", code) is not None


def codes_unique_per_unit(server: Server) -> bool:
    first = submitted(server)["code"]
    marriage = ok(create(server, who=OTHER_APPLICANT, procedure="1.000894"), 201)["id"]
    ok(attach(server, marriage, "TKDKKH", signed_upload(), who=OTHER_APPLICANT), 201)
    second = ok(act(server, marriage, "submission", who=OTHER_APPLICANT))["code"]
    return first != second


def applicant_prefilled(server: Server) -> bool:
    return ok(create(server), 201)["applicant"].get("personalId") == APPLICANT


def submitted_dossier_kept(server: Server) -> bool:
    dossier = submitted(server)
    path = f"/dossiers/{dossier['id']}"
    kept = server.call("DELETE", path, who=APPLICANT).status_code == 409
    return kept and server.call("GET", path, who=APPLICANT).status_code == 200


def file_name_as_sent(server: Server) -> bool:
    name = unicodedata.normalize("NFC", "Giấy chứng sinh bản gốc.pdf")
    dossier_id = ok(create(server), 201)["id"]
    added = ok(attach(server, dossier_id, "GCS", upload("sample.pdf", name)), 201)
    return bool(added["file"]["fileName"] == name)


# ---- dossiers: lifecycle -------------------------------------------------------------------


def no_resolution_from_received(server: Server) -> bool:
    dossier = submitted(server)
    moved(server, dossier["id"], "acceptance", {})
    answer = act(server, dossier["id"], "resolution", body={"title": "Giấy khai sinh"})
    return answer.status_code == 409 and read(server, dossier["id"])["status"] == "received"


def no_withdrawal_from_refused(server: Server) -> bool:
    dossier = submitted(server)
    moved(server, dossier["id"], "refusal", {"reason": REASON})
    answer = act(server, dossier["id"], "withdrawal", who=APPLICANT, body={"reason": REASON})
    return answer.status_code == 409


def stop_leads_to_stopped(server: Server) -> bool:
    dossier = in_process(server)
    stopped = moved(server, dossier["id"], "stop", {"reason": REASON})
    return stopped["status"] == "stopped" and stopped["statusCode"] == 8


def stale_if_match_refused(server: Server) -> bool:
    created = create(server)
    seen = created.headers["ETag"]
    dossier_id = created.json()["id"]
    ok(attach(server, dossier_id, "TKKS", headers={"If-Match": seen}), 201)
    return attach(server, dossier_id, "GCS", headers={"If-Match": seen}).status_code == 412


def _needs_reason(server: Server, dossier_id: str, suffix: str, body: dict[str, object]) -> bool:
    before = read(server, dossier_id)["status"]
    refused = act(server, dossier_id, suffix, body=body).status_code in (400, 422)
    return refused and read(server, dossier_id)["status"] == before


def refusal_needs_reason(server: Server) -> bool:
    return _needs_reason(server, submitted(server)["id"], "refusal", {})


def stop_needs_reason(server: Server) -> bool:
    return _needs_reason(server, in_process(server)["id"], "stop", {})


def supplement_request_needs_reason(server: Server) -> bool:
    body = {"componentCodes": ["GCS"]}
    return _needs_reason(server, submitted(server)["id"], "supplement-request", body)


def supplement_returns_to_processing(server: Server) -> bool:
    dossier = supplement_asked(server, [], from_process=True)
    answer = act(server, dossier["id"], "supplement", who=APPLICANT, body={"form": sample_form()})
    return bool(ok(answer)["status"] == "in-process")


def supplement_keeps_code(server: Server) -> bool:
    before, after = supplemented(server)
    return bool(ok(after)["code"] == before["code"])


def supplement_recorded(server: Server) -> bool:
    before, after = supplemented(server)
    ok(after)
    entry = history(server, before["id"])[-1]
    changed = [change["componentCode"] for change in entry.get("changes", [])]
    return entry["action"] == "submitSupplement" and changed == ["GCS"]


def submitted_form_frozen(server: Server) -> bool:
    dossier = submitted(server)
    answer = server.call("PATCH", f"/dossiers/{dossier['id']}", who=APPLICANT, json={"form": {}})
    return answer.status_code == 409 and read(server, dossier["id"])["form"] == dossier["form"]


# ---- dossiers: access and notifications ----------------------------------------------------


def others_dossier_hidden(server: Server) -> bool:
    dossier = submitted(server)
    answer = server.call("GET", f"/dossiers/{dossier['id']}", who=OTHER_APPLICANT)
    return answer.status_code in (403, 404)


def applicant_cannot_accept(server: Server) -> bool:
    dossier = submitted(server)
    forbidden = act(server, dossier["id"], "acceptance", who=APPLICANT, body={}).status_code == 403
    return forbidden and read(server, dossier["id"])["status"] == "submitted"


def other_agency_kept_out(server: Server) -> bool:
    dossier = submitted(server)
    seen = server.call("GET", f"/dossiers/{dossier['id']}", who=OTHER_OFFICER).status_code
    acted = act(server, dossier["id"], "acceptance", who=OTHER_OFFICER, body={}).status_code
    return seen in (403, 404) and acted in (403, 404)


def submission_notified(server: Server) -> bool:
    code = submitted(server)["code"]
    return any(n["refs"].get("dossierCode") == code for n in notifications(server))


def refusal_notified_with_reason(server: Server) -> bool:
    dossier = submitted(server)
    moved(server, dossier["id"], "refusal", {"reason": REASON})
    return any(n.get("reason") == REASON for n in notifications(server))


# ---- error answers -------------------------------------------------------------------------


def malformed_json_is_400(server: Server) -> bool:
    headers = {**server.as_(APPLICANT), "Content-Type": "application/json"}
    return server.client.post("/dossiers", content=b"{not json", headers=headers).status_code == 400


def errors_are_problems(server: Server) -> bool:
    answer = server.call("GET", "/dossiers/no-such-dossier", who=APPLICANT)
    body = answer.json()
    media = answer.headers["content-type"].startswith("application/problem+json")
    return media and {"type", "title", "status", "detail"} <= set(body)


def bad_request_names_fields(server: Server) -> bool:
    answer = server.call("POST", "/dossiers", who=APPLICANT, json={"procedureCode": PROCEDURE})
    pointers = [e.get("pointer") for e in answer.json().get("errors", [])]
    return answer.status_code == 400 and bool(pointers) and all(pointers)


def unknown_field_refused(server: Server) -> bool:
    body = {"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": sample_form(), "colour": 1}
    return server.call("POST", "/dossiers", who=APPLICANT, json=body).status_code == 400


def method_not_allowed_names_methods(server: Server) -> bool:
    answer = server.call("PUT", "/dossiers", who=APPLICANT, json={})
    return answer.status_code == 405 and "POST" in answer.headers.get("allow", "")


PROBES: dict[str, Probe] = {
    "accept-expired-token": expired_token_refused,
    "accept-wrong-audience": wrong_audience_refused,
    "accept-future-token": future_token_refused,
    "accept-forged-signature": forged_signature_refused,
    "register-organisation-as-individual": organisation_registers_as_organisation,
    "account-identity-overwritable": identity_not_overwritten,
    "identity-jwks-stale-key": tokens_verify_with_published_keys,
    "online-notice-missing": partly_online_says_why,
    "form-not-published": form_published,
    "search-ignores-nfd": search_matches_nfd,
    "procedures-last-page-lost": pages_yield_every_procedure,
    "agency-code-lowercase": agency_code_format,
    "accept-incomplete-dossier": incomplete_dossier_refused,
    "first-reason-only": every_reason_given,
    "skip-content-sniffing": lying_file_refused,
    "signature-not-checked": unsigned_form_refused,
    "signature-chain-not-checked": impostor_signature_refused,
    "signature-digest-not-checked": signature_of_another_file_refused,
    "receipt-time-not-rolled": saturday_night_counts_from_monday,
    "times-in-utc": times_in_vietnam,
    "appointment-in-calendar-days": appointment_on_working_day,
    "dossier-code-unpadded": code_format,
    "dossier-code-per-procedure": codes_unique_per_unit,
    "applicant-not-prefilled": applicant_prefilled,
    "delete-submitted-dossier": submitted_dossier_kept,
    "file-name-nfd": file_name_as_sent,
    "resolve-from-received": no_resolution_from_received,
    "withdrawal-from-terminal": no_withdrawal_from_refused,
    "stop-leads-to-refused": stop_leads_to_stopped,
    "ignore-if-match": stale_if_match_refused,
    "refuse-without-reason": refusal_needs_reason,
    "stop-without-reason": stop_needs_reason,
    "supplement-request-without-reason": supplement_request_needs_reason,
    "supplement-returns-to-received": supplement_returns_to_processing,
    "supplement-changes-code": supplement_keeps_code,
    "supplement-drops-history": supplement_recorded,
    "edit-after-submission": submitted_form_frozen,
    "other-applicant-reads-dossier": others_dossier_hidden,
    "applicant-calls-officer-action": applicant_cannot_accept,
    "other-agency-officer-acts": other_agency_kept_out,
    "no-submission-notification": submission_notified,
    "notification-without-reason": refusal_notified_with_reason,
    "malformed-json-500": malformed_json_is_400,
    "problem-as-plain-json": errors_are_problems,
    "errors-without-pointers": bad_request_names_fields,
    "accept-unknown-fields": unknown_field_refused,
    "no-allow-on-405": method_not_allowed_names_methods,
}
