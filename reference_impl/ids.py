"""Identifiers the server chooses: opaque ids, dossier codes, references."""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from . import variants
from .tables import dossier_sequences

_VERIFICATION_ALPHABET = string.ascii_uppercase + string.digits

# The counter statements, built once (every submission runs them).
_COUNTER = (dossier_sequences.c.agency_code == bindparam("b_agency")) & (
    dossier_sequences.c.day == bindparam("b_day")
)
_BUMP = (
    update(dossier_sequences)
    .where(_COUNTER)
    .values(last=dossier_sequences.c.last + bindparam("b_step"))
)
_BUMP_RETURNING = _BUMP.returning(dossier_sequences.c.last)
_LAST = select(dossier_sequences.c.last).where(_COUNTER)
_CREATE = insert(dossier_sequences)


def new_id() -> str:
    """A random opaque identifier."""
    if variants.on("ulid-ids"):
        return variants.ulid()
    return str(uuid.uuid4())


def verification_code() -> str:
    """A 12-character code printed on paper results (Decree 45/2020/ND-CP Art. 18(2))."""
    return "".join(secrets.choice(_VERIFICATION_ALPHABET) for _ in range(12))


def payment_reference(at: datetime) -> str:
    """A portal payment reference: ``PAY-YYMMDD-`` and 10 random characters."""
    suffix = "".join(secrets.choice(_VERIFICATION_ALPHABET) for _ in range(10))
    return f"PAY-{at:%y%m%d}-{suffix}"


def next_dossier_code(connection: Connection, agency_code: str, received: datetime) -> str:
    """``<agency>-<YYMMDD>-<NNNN>`` (Circular 01/2018/TT-VPCP Art. 19), unique per unit and day.

    The counter row is updated inside the caller's transaction, so concurrent submissions
    (even from several worker processes) get distinct numbers and a rolled-back submission
    gives its number back.
    """
    day = f"{received:%y%m%d}"
    key = {"b_agency": agency_code, "b_day": day}
    bump = {**key, "b_step": variants.sequence_step()}
    for _ in range(5):
        # UPDATE … RETURNING bumps and reads in one statement (PostgreSQL, SQLite >= 3.35).
        found: int | None
        if connection.dialect.update_returning:
            found = connection.execute(_BUMP_RETURNING, bump).scalar()
        else:
            bumped = connection.execute(_BUMP, bump)
            found = connection.execute(_LAST, key).scalar_one() if bumped.rowcount else None
        if found is not None:
            number = found
            break
        try:
            with connection.begin_nested():
                connection.execute(_CREATE, {"agency_code": agency_code, "day": day, "last": 1})
            number = 1
            break
        except IntegrityError:  # another transaction created the row first: bump it instead
            continue
    else:  # pragma: no cover - five collisions in a row means the database is broken
        raise RuntimeError("could not allocate a dossier number")
    if number > 9999:
        raise RuntimeError(f"more than 9999 dossiers in one day at {agency_code}")
    return f"{agency_code}-{day}-{number:04d}"
