"""Signing keys, kept in the database so signatures stay verifiable across restarts."""

from __future__ import annotations

import secrets
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import Column, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from .db import Database, Document, metadata

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("purpose", String(40), primary_key=True),
    Column("private_jwk", Document, nullable=False),
)

# Tokens are verified on every request: RS256 verifies fastest. Results, receipts and e-copies
# are signed once and verified rarely: ES256 keeps them short.
_ALGORITHMS = {"identity": "RS256", "agency": "ES256", "platform": "ES256"}

Key = RSAKey | ECKey


class KeyRing:
    """One signing key per purpose (``identity``, ``agency``, ``platform``)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._keys: dict[str, Key] = {}

    def key(self, purpose: str) -> Key:
        """The private key for ``purpose``, created and stored on first use."""
        found = self._keys.get(purpose)
        if found is None:
            found = self._load_or_create(purpose)
            self._keys[purpose] = found
        return found

    def algorithm(self, purpose: str) -> str:
        """The JWS algorithm the key of ``purpose`` signs with."""
        return _ALGORITHMS[purpose]

    def public_jwks(self, purpose: str) -> dict[str, Any]:
        """The public JWK Set of ``purpose``, as published."""
        published: dict[str, Any] = dict(KeySet([self.key(purpose)]).as_dict(private=False))
        return published

    def key_set(self, purpose: str) -> KeySet:
        """A key set holding the key of ``purpose``, for verification."""
        return KeySet([self.key(purpose)])

    def _load_or_create(self, purpose: str) -> Key:
        with self._database.transaction() as conn:
            row = conn.execute(
                select(signing_keys.c.private_jwk).where(signing_keys.c.purpose == purpose)
            ).first()
        if row is not None:
            return _import(row[0])
        key = _generate(purpose)
        try:
            with self._database.transaction() as conn:
                conn.execute(
                    insert(signing_keys).values(
                        purpose=purpose, private_jwk=key.as_dict(private=True)
                    )
                )
        except IntegrityError:  # another worker stored one first: use theirs
            return self._load_or_create(purpose)
        return key


def _generate(purpose: str) -> Key:
    algorithm = _ALGORITHMS[purpose]
    parameters: Any = {"kid": f"{purpose}-{secrets.token_hex(6)}", "use": "sig", "alg": algorithm}
    if algorithm == "RS256":
        return RSAKey.generate_key(2048, parameters=parameters, private=True)
    return ECKey.generate_key("P-256", parameters=parameters, private=True)


def _import(data: dict[str, Any]) -> Key:
    if data["kty"] == "RSA":
        return RSAKey.import_key(data)
    return ECKey.import_key(data)
