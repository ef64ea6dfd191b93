"""Vietnamese text (Unicode Standard Annex #15; the contract's "Requests and responses": NFC in,
NFC out; searches match NFC and NFD spellings; Decree 137/2024/ND-CP Art. 7(1)(a): a reason the
applicant can understand).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Any

import httpx
import pytest

from conformance.checks import expect, expect_refused, expect_status
from conformance.client import TargetClient
from conformance.config import TargetConfig
from conformance.scenario import Portal, sample_form, upload

NAMES = ("Nguyễn Thị Ánh Tuyết", "Đặng Quỳnh Hương", "Trương Thị Ngọc Hường")
"""Names with every kind of Vietnamese letter: breve, circumflex, horn, stroke, tone marks."""
ADDRESS = "Số 18 ngõ 45 phố Quỳnh Lôi, phường Bạch Mai, quận Hai Bà Trưng, Hà Nội"
FILE_NAME = "Giấy chứng sinh của Đặng Quỳnh Hương.pdf"
VIETNAMESE_LETTERS = frozenset(
    "ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
"""Letters only Vietnamese writing has among the languages a portal meets (lower case)."""
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|\([^)]*\)")
"""Quoted or parenthesised parts of a reason: names of things, not the reason's own words."""


def _nfc_everywhere(sent: Any, back: Any, where: str = "") -> list[str]:
    """Where ``back`` differs from ``sent`` code point for code point (``sent`` is NFC)."""
    if isinstance(sent, dict):
        if not isinstance(back, dict):
            return [f"{where or '/'}: an object became {type(back).__name__}"]
        found: list[str] = []
        for key, value in sent.items():
            found += _nfc_everywhere(value, back.get(key), f"{where}/{key}")
        return found
    if isinstance(sent, list):
        if not isinstance(back, list) or len(back) != len(sent):
            return [f"{where}: the list changed"]
        return [
            d for i, item in enumerate(sent) for d in _nfc_everywhere(item, back[i], f"{where}/{i}")
        ]
    if sent != back:
        form = (
            "NFD" if isinstance(back, str) and unicodedata.is_normalized("NFD", back) else "changed"
        )
        return [f"{where or 'the value'}: sent {sent!r}, got {back!r} ({form})"]
    return []


def _vietnamese_form(procedure: str) -> dict[str, Any]:
    """The sample e-form with every name and address replaced by Vietnamese test text."""
    names = iter(NAMES * 10)

    def rewrite(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: rewrite(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(item, key) for item in node]
        if isinstance(node, str) and key.lower().endswith("name"):
            return next(names)
        if isinstance(node, str) and "address" in key.lower():
            return ADDRESS
        return node

    form = rewrite(sample_form(procedure))
    form["ghiChuKiemThu"] = f"{NAMES[0]} — {ADDRESS}"  # an open form keeps any field
    return dict(form)


def _kept(requirement: str, sent: Any, back: Any, what: str, *answers: httpx.Response) -> None:
    differences = _nfc_everywhere(sent, back)
    expect(
        requirement,
        not differences,
        f"{what} returned exactly as sent (NFC, code point for code point)",
        "; ".join(differences)[:600],
        *answers,
    )


@pytest.mark.requirement("TXT-01")
def test_dossier_form_and_file_names_keep_vietnamese_text_exactly(
    client: TargetClient, target: TargetConfig
) -> None:
    """Names and addresses in the e-form, and a component's file name, come back as sent."""
    portal = Portal(client, target)
    form = _vietnamese_form(target.procedures.primary)
    created = portal.create(form=form)
    dossier = expect_status("TXT-01", created, 201, why="a draft with Vietnamese names")
    _kept("TXT-01", form, dossier.get("form"), "the e-form in createDossier's answer", created)
    component = next(iter(portal.procedure().get("components") or []), None)
    if component is None:
        pytest.skip("insufficient test data: the primary procedure has no component")
    attached = portal.attach(
        dossier["id"], component["code"], portal.document_for(component, file_name=FILE_NAME)
    )
    added = expect_status("TXT-01", attached, 201, why="a component with a Vietnamese file name")
    _kept(
        "TXT-01",
        FILE_NAME,
        (added.get("file") or {}).get("fileName"),
        "the file name in addComponent's answer",
        attached,
    )
    read = client.call("GET", "dossiers", f"/dossiers/{dossier['id']}", as_="applicantA")
    again = expect_status("TXT-01", read, 200, why="the draft read back")
    _kept("TXT-01", form, again.get("form"), "the e-form in getDossier", read)
    names = [(c.get("file") or {}).get("fileName") for c in again.get("components") or []]
    expect(
        "TXT-01",
        FILE_NAME in names,
        f"getDossier to list the component's file name {FILE_NAME!r} exactly",
        f"file names {names!r}",
        read,
    )


@pytest.mark.requirement("TXT-01")
@pytest.mark.capability("online-requests")
def test_online_request_keeps_vietnamese_text_exactly(
    client: TargetClient, target: TargetConfig
) -> None:
    """An online request's subject and content come back code point for code point."""
    body = {
        "agencyCode": target.procedures.agency_code,
        "subject": f"Hỏi về hồ sơ của {NAMES[1]} ({secrets.token_hex(3)})",
        "content": f"Tôi là {NAMES[0]}, địa chỉ {ADDRESS}. Xin hỏi thủ tục cấp lại giấy khai sinh?",
        "category": "question",
    }
    sent = client.call("POST", "requests", "/requests", as_="applicantA", json=body)
    request = expect_status("TXT-01", sent, 201, why="an online request in Vietnamese")
    subset = {k: body[k] for k in ("subject", "content")}
    _kept("TXT-01", subset, request, "the request in submitRequest's answer", sent)
    read = client.call("GET", "requests", f"/requests/{request['id']}", as_="applicantA")
    _kept(
        "TXT-01",
        subset,
        expect_status("TXT-01", read, 200, why="the request read back"),
        "the request in getRequest",
        read,
    )


@pytest.mark.requirement("TXT-01")
@pytest.mark.capability("repository")
def test_repository_item_keeps_vietnamese_text_exactly(client: TargetClient) -> None:
    """A Repository item's title, metadata and file name come back code point for code point."""
    body = {
        "title": f"Giấy khai sinh của {NAMES[2]} ({secrets.token_hex(3)})",
        "file": upload("sample.pdf", file_name=FILE_NAME),
        "metadata": {"documentType": "Giấy khai sinh", "issuer": "UBND phường Bạch Mai"},
    }
    sent = client.call("POST", "repository", "/repository/items", as_="applicantA", json=body)
    item = expect_status("TXT-01", sent, 201, why="a digitised document with Vietnamese text")
    subset = {"title": body["title"], "metadata": body["metadata"], "file": {"fileName": FILE_NAME}}
    _kept("TXT-01", subset, item, "the item in addRepositoryItem's answer", sent)
    read = client.call("GET", "repository", f"/repository/items/{item['id']}", as_="applicantA")
    _kept(
        "TXT-01",
        subset,
        expect_status("TXT-01", read, 200, why="the item read back"),
        "the item in getRepositoryItem",
        read,
    )


# ---- TXT-02: NFC and NFD searches ------------------------------------------------------------


def _found(client: TargetClient, words: str) -> tuple[set[str], httpx.Response]:
    answer = client.call("GET", "catalogue", "/procedures", params={"q": words, "limit": 100})
    body = expect_status("TXT-02", answer, 200, why=f"a search for {words!r}")
    return {str(p.get("code")) for p in body.get("items", [])}, answer


@pytest.mark.requirement("TXT-02")
def test_list_procedures_finds_the_same_procedures_in_nfc_and_nfd(
    client: TargetClient, target: TargetConfig
) -> None:
    """A search by name finds the same procedures whether typed precomposed or decomposed."""
    name = str(Portal(client, target).procedure().get("name", ""))
    words = [w for w in name.split() if unicodedata.normalize("NFD", w) != w]
    if not words:
        pytest.skip(f"the primary procedure's name {name!r} has no letter with a diacritic")
    code = target.procedures.primary
    for query in (unicodedata.normalize("NFC", name), words[0]):
        nfc, nfc_answer = _found(client, unicodedata.normalize("NFC", query))
        nfd, nfd_answer = _found(client, unicodedata.normalize("NFD", query))
        expect(
            "TXT-02",
            code in nfc,
            f"the search {query!r} (NFC) to find procedure {code}",
            f"found {sorted(nfc)}",
            nfc_answer,
        )
        expect(
            "TXT-02",
            nfd == nfc,
            f"the NFD spelling of {query!r} to find what the NFC one finds ({sorted(nfc)})",
            f"found {sorted(nfd)}",
            nfc_answer,
            nfd_answer,
        )


# ---- TXT-03: reasons an applicant can read ---------------------------------------------------


def _own_words(reason: str) -> str:
    """A reason without the names it quotes (a component's Vietnamese title is not the reason)."""
    return QUOTED.sub(" ", reason)


@pytest.mark.requirement("TXT-03")
def test_automatic_check_reasons_are_written_in_vietnamese(
    client: TargetClient, target: TargetConfig
) -> None:
    """The reasons the automatic check gives an applicant are written in Vietnamese."""
    portal = Portal(client, target)
    draft = portal.draft(complete=False)
    # Asked for in Vietnamese, so that a server choosing the language by request passes too.
    answer = client.call(
        "POST",
        "dossiers",
        f"/dossiers/{draft['id']}/submission",
        as_="applicantA",
        headers={"Accept-Language": "vi"},
    )
    problem = expect_refused("RCV-01", answer, {422}, why="a draft with no component is refused")
    reasons = [str(e.get("detail", "")) for e in problem.get("errors", []) if isinstance(e, dict)]
    reasons = reasons or [str(problem.get("detail", ""))]
    foreign = [r for r in reasons if not VIETNAMESE_LETTERS & set(_own_words(r).lower())]
    expect(
        "TXT-03",
        not foreign,
        "every reason of the automatic check in Vietnamese words (quoted names aside), so "
        "that the applicant understands it",
        f"not Vietnamese: {foreign}"[:600],
        answer,
    )
