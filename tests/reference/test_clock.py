"""The server's clock: the machine's, or shifted by ``serve --clock-start`` for whole-kit runs."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from reference_impl import server
from reference_impl.clock import VN_TZ, OffsetClock, SystemClock, machine_clock
from reference_impl.settings import Settings

from .live import LiveServer, sign_in
from .test_dossiers import AGENCY, APPLICANT, PROCEDURE, sample_form, upload

SATURDAY_NIGHT = datetime(2026, 11, 28, 22, 40, tzinfo=VN_TZ)
MONDAY_MORNING = "2026-11-30T07:30:00+07:00"  # 000.00.01.H22 opens at 07:30


def test_machine_clock_is_the_system_clock_unless_shifted() -> None:
    assert isinstance(machine_clock(0.0), SystemClock)
    shifted = machine_clock(-86_400.0)
    assert isinstance(shifted, OffsetClock)
    behind = datetime.now(VN_TZ) - shifted.now()
    assert timedelta(hours=23, minutes=59) < behind < timedelta(days=1, minutes=1)


def test_worker_processes_build_the_same_shifted_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(clock_offset_seconds=-3600.5, faults=frozenset({"times-in-utc"}))
    monkeypatch.setenv(server._SETTINGS_ENV, server.settings_to_env(settings))
    assert server.settings_from_env() == settings


def _claims(token: str) -> dict[str, int]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@pytest.mark.slow
def test_serve_clock_start_counts_a_saturday_night_submission_from_monday_morning(
    tmp_path: Path,
) -> None:
    """Started at Saturday 22:40, the server receives a dossier at Monday's first period."""
    live = LiveServer(
        f"sqlite:///{tmp_path / 'reference.sqlite3'}",
        tmp_path / "server.log",
        "--clock-start",
        SATURDAY_NIGHT.isoformat(),
    ).start()
    try:
        token = sign_in(live.base_url, APPLICANT)  # issued and then accepted on the same clock
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=live.base_url, headers=headers, timeout=30) as http:
            body = {"procedureCode": PROCEDURE, "agencyCode": AGENCY, "form": sample_form()}
            created = http.post("/dossiers", json=body)
            assert created.status_code == 201, created.text
            dossier_id = created.json()["id"]
            for code, name in (("TKKS", "sample.pdf"), ("GCS", "sample.png")):
                file = {"componentCode": code, "file": upload(name)}
                added = http.post(f"/dossiers/{dossier_id}/components", json=file)
                assert added.status_code == 201, added.text
            answer = http.post(f"/dossiers/{dossier_id}/submission")
    finally:
        live.stop()
    assert answer.status_code == 200, answer.text
    dossier = answer.json()
    window = (SATURDAY_NIGHT, SATURDAY_NIGHT + timedelta(minutes=5))
    assert window[0] <= datetime.fromisoformat(dossier["submittedAt"]) < window[1]
    assert window[0].timestamp() <= _claims(token)["iat"] < window[1].timestamp()
    assert dossier["officialReceiptTime"] == MONDAY_MORNING
    assert dossier["code"].startswith(f"{AGENCY}-261130-")
