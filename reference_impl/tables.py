"""Every table of the reference server.

Each domain object is stored as its API representation (``doc``) beside the columns that
lookups, uniqueness and ordering need. ``seq`` orders lists and backs their cursors.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .db import Document, metadata, seq_column

accounts = Table(
    "accounts",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner_key", String(200), nullable=False, unique=True),
    Column("doc", Document, nullable=False),
)

dossiers = Table(
    "dossiers",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("agency_code", String(35), nullable=False, index=True),
    Column("code", String(60), unique=True),
    Column("status", String(30), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name_folded", Text, nullable=False, default=""),
    Column("doc", Document, nullable=False),
)

dossier_history = Table(
    "dossier_history",
    metadata,
    seq_column(),
    Column("dossier_id", String(64), nullable=False, index=True),
    Column("doc", Document, nullable=False),
)

dossier_components = Table(
    "dossier_components",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("dossier_id", String(64), nullable=False, index=True),
    # 1 while the component was added since a supplement request and not yet sent with the
    # supplement: only those may be removed then (Decree 45/2020/ND-CP Art. 12).
    Column("pending", Integer, nullable=False, default=0),
    Column("doc", Document, nullable=False),
)
"""Every component ever attached, replaced ones included, so they stay downloadable."""

dossier_sequences = Table(
    "dossier_sequences",
    metadata,
    Column("agency_code", String(35), primary_key=True),
    Column("day", String(6), primary_key=True),
    Column("last", Integer, nullable=False),
)

blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("media_type", String(100), nullable=False),
    Column("content", LargeBinary, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(300), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("headers", Document, nullable=False),
    Column("body", Document),
)

fee_obligations = Table(
    "fee_obligations",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("dossier_id", String(64), nullable=False, index=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("agency_code", String(35), nullable=False),
    Column("status", String(20), nullable=False),
    Column("doc", Document, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("reference", String(40), nullable=False, unique=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("agency_code", String(35), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("created_day", String(10), nullable=False),
    Column("doc", Document, nullable=False),
    Column("receipt", Text),  # the platform's signed e-receipt (compact JWS), once held
)

payment_notifications = Table(
    "payment_notifications",
    metadata,
    Column("notification_id", String(100), primary_key=True),
    Column("payment_id", String(64), nullable=False),
    Column("body_hash", String(64), nullable=False),
)

platform_transactions = Table(
    "platform_transactions",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("reference", String(40), nullable=False, index=True),
    Column("merchant_code", String(35), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_day", String(10), nullable=False),
    Column("notify_url", Text, nullable=False),
    Column("doc", Document, nullable=False),
)

results = Table(
    "results",
    metadata,
    seq_column(),
    Column("code", String(70), nullable=False, unique=True),
    Column("dossier_id", String(64), nullable=False, index=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("agency_code", String(35), nullable=False, index=True),
    Column("verification_code", String(12), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("doc", Document, nullable=False),
)

repository_items = Table(
    "repository_items",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("source_key", String(120)),
    Column("doc", Document, nullable=False),
    UniqueConstraint("owner_key", "kind", "source_key", name="uq_repository_source"),
)

ecopies = Table(
    "ecopies",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("agency_code", String(35), nullable=False),
    Column("status", String(20), nullable=False),
    Column("doc", Document, nullable=False),
)

online_requests = Table(
    "online_requests",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("agency_code", String(35), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("doc", Document, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("doc", Document, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    seq_column(),
    Column("id", String(64), nullable=False, unique=True),
    Column("owner_key", String(200), nullable=False, index=True),
    Column("secret", String(128), nullable=False),
    Column("active", Integer, nullable=False, default=1),
    Column("doc", Document, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    seq_column(),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(80), nullable=False, index=True),
    Column("doc", Document, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    seq_column(),
    Column("target", String(100), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("method", String(10), nullable=False, default="POST"),
    Column("body", Document),
    Column("status", String(20), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False, default=0),
    Column("last_error", Text),
    UniqueConstraint("target", "event_id", name="uq_delivery"),
)

synced_objects = Table(
    "synced_objects",
    metadata,
    seq_column(),
    Column("kind", String(20), nullable=False),
    Column("key", String(130), nullable=False),  # a payment's transactionId: up to 128
    Column("updated_at", String(40), nullable=False),
    Column("doc", Document, nullable=False),
    UniqueConstraint("kind", "key", name="uq_synced"),
)

auth_codes = Table(
    "auth_codes",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("doc", Document, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family", String(64), nullable=False, index=True),
    Column("client_id", String(128), nullable=False),
    Column("doc", Document, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked", Integer, nullable=False, default=0),
)
