"""The signer's digital signature of an uploaded file (``common/file.json#/$defs/signature``).

A compact JWS over ``{sha256, signedAt}`` whose protected header carries the signer's X.509
chain in ``x5c``. It is valid when the JWS verifies with the first certificate's key, each
certificate is issued by the next and the last by a trusted authority, all are valid now, the
signer's may sign, and the digest is the file's (docs/contract-conventions.md, Digital
signatures). `SignatureVerifier.reason` says why one is not, in Vietnamese, or ``None``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from .clock import Clock

ALGORITHMS = ("ES256", "ES384", "RS256", "PS256")
MAX_CHAIN = 5


class _ChainRegistry(jws.JWSRegistry):
    """joserfc's JWS limits with room for a certificate chain in the header (512 B is joserfc's)."""

    max_header_length = 24_000


_REGISTRY = _ChainRegistry(algorithms=ALGORITHMS)


def load_anchors(paths: Sequence[str | Path]) -> tuple[x509.Certificate, ...]:
    """The trusted certification authorities in the PEM files ``paths``."""
    anchors: list[x509.Certificate] = []
    for path in paths:
        anchors.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    return tuple(anchors)


class SignatureVerifier:
    """Checks file signatures against the configured authorities and the server's clock.

    ``skip`` names checks a deliberate fault leaves out (``chain``, ``digest``); mutation
    testing only.
    """

    def __init__(
        self, anchors: Sequence[x509.Certificate], clock: Clock, skip: Collection[str] = ()
    ) -> None:
        self._anchors = tuple(anchors)
        self._clock = clock
        self._skip = frozenset(skip)

    def reason(self, signature: str, content: bytes) -> str | None:
        """Why ``signature`` is not a valid signature of ``content``; ``None`` when it is."""
        parts = signature.split(".")
        if len(parts) != 3:
            return "Chữ ký số không phải JWS dạng rút gọn (ba phần)."
        header = _json_part(parts[0])
        if header is None:
            return "Phần đầu của chữ ký số không phải JSON base64url."
        if header.get("alg") not in ALGORITHMS:
            allowed = ", ".join(ALGORITHMS)
            return f"Thuật toán ký {header.get('alg')!r} không được chấp nhận ({allowed})."
        chain = _certificates(header.get("x5c"))
        if isinstance(chain, str):
            return chain
        payload = _verified_payload(signature, chain[0], str(header["alg"]))
        if payload is None:
            return "Chữ ký số không khớp với khóa công khai trong chứng thư số của người ký."
        problem = self._chain_problem(chain) if "chain" not in self._skip else None
        if problem:
            return problem
        if (
            "digest" not in self._skip
            and payload.get("sha256") != hashlib.sha256(content).hexdigest()
        ):
            return "Chữ ký số không phải của tệp này: giá trị băm SHA-256 khác với tệp đã gửi."
        return None

    def _chain_problem(self, chain: list[x509.Certificate]) -> str | None:
        now = self._clock.now()
        for certificate in chain:
            if not _valid_at(certificate, now):
                return f"Chứng thư số {_name(certificate)} không còn (hoặc chưa có) hiệu lực."
        if not _may_sign(chain[0]):
            return f"Chứng thư số {_name(chain[0])} không cho phép ký số."
        for child, issuer in itertools.pairwise(chain):
            if not _is_authority(issuer) or not _issued_by(child, issuer):
                return f"Chứng thư số {_name(child)} không do {_name(issuer)} cấp."
        last = chain[-1]
        for anchor in self._anchors:
            if last == anchor or (_issued_by(last, anchor) and _valid_at(anchor, now)):
                return None
        return (
            f"Chứng thư số {_name(last)} không thuộc tổ chức cung cấp dịch vụ chứng thực chữ ký "
            "số được tin cậy."
        )


def _json_part(part: str) -> dict[str, object] | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, binascii.Error):
        return None
    return decoded if isinstance(decoded, dict) else None


def _certificates(x5c: object) -> list[x509.Certificate] | str:
    if not isinstance(x5c, list) or not x5c or len(x5c) > MAX_CHAIN:
        return f"Chữ ký số phải kèm chuỗi chứng thư số (x5c, 1 đến {MAX_CHAIN} chứng thư)."
    chain = []
    for index, encoded in enumerate(x5c):
        try:
            chain.append(x509.load_der_x509_certificate(base64.b64decode(encoded, validate=True)))
        except (ValueError, TypeError, binascii.Error):
            return f"Chứng thư số thứ {index + 1} trong x5c không đọc được (DER, base64)."
    return chain


def _verified_payload(
    signature: str, signer: x509.Certificate, algorithm: str
) -> dict[str, object] | None:
    public = signer.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key: ECKey | RSAKey
    if isinstance(public, ec.EllipticCurvePublicKey):
        key = ECKey.import_key(pem)
    elif isinstance(public, rsa.RSAPublicKey):
        key = RSAKey.import_key(pem)
    else:
        return None
    try:
        verified = jws.deserialize_compact(
            signature, key, algorithms=[algorithm], registry=_REGISTRY
        )
        payload = json.loads(verified.payload)
    except (JoseError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _valid_at(certificate: x509.Certificate, now: datetime) -> bool:
    return certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc


def _may_sign(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(usage.digital_signature or usage.content_commitment)


def _is_authority(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return bool(constraints.value.ca)


def _issued_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return repr(str(names[0].value)) if names else repr(certificate.subject.rfc4514_string())
