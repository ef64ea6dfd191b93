"""The applicant's digital signature of an uploaded file, as the contract defines it.

`Signer.sign` makes the compact JWS of ``common/file.json#/$defs/signature``: the payload is
``{sha256, signedAt}``, the protected header carries the signer's certificate chain in
``x5c``. The kit signs with the sandbox signer of ``fixtures/signing`` (whose CA a sandbox
portal trusts) unless the target configuration names another; `impostor` makes a signer a
target must not trust, certified by a CA that only copies the sandbox CA's name.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

from egov_contract import fixtures_dir

if TYPE_CHECKING:
    from .config import TargetConfig

VN_TZ = timezone(timedelta(hours=7))
TYP = "egov-signature+jws"


@dataclass(frozen=True)
class Signer:
    """A signer's certificate chain (signer first) and private key, in PEM."""

    chain_pem: bytes
    key_pem: bytes

    @property
    def chain(self) -> list[x509.Certificate]:
        """The certificates, the signer's first."""
        return x509.load_pem_x509_certificates(self.chain_pem)

    @cached_property
    def _header(self) -> dict[str, Any]:
        """The protected header every signature of this signer carries (``alg``, ``x5c``)."""
        x5c = [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
            for c in self.chain
        ]
        algorithm = "RS256" if isinstance(self._key, RSAKey) else "ES256"
        return {"alg": algorithm, "typ": TYP, "x5c": x5c}

    @cached_property
    def _key(self) -> ECKey | RSAKey:
        private = serialization.load_pem_private_key(self.key_pem, password=None)
        if isinstance(private, rsa.RSAPrivateKey):
            return RSAKey.import_key(self.key_pem)
        return ECKey.import_key(self.key_pem)

    def sign(self, content: bytes, signed_at: datetime | None = None) -> str:
        """The signature of ``content``, made now unless ``signed_at`` says when."""
        at = (signed_at or datetime.now(VN_TZ)).astimezone(VN_TZ).replace(microsecond=0)
        payload = {"sha256": hashlib.sha256(content).hexdigest(), "signedAt": at.isoformat()}
        body = json.dumps(payload, separators=(",", ":")).encode()
        return jws.serialize_compact(dict(self._header), body, self._key)


def load_signer(chain_file: str | Path, key_file: str | Path) -> Signer:
    """A signer from a PEM certificate chain and a PEM (PKCS #8, unencrypted) private key."""
    return Signer(Path(chain_file).read_bytes(), Path(key_file).read_bytes())


def signer_of(target: TargetConfig) -> Signer:
    """The signer the target configuration names (read once), or the sandbox signer."""
    if target.signer_files:
        return _configured_signer(*target.signer_files)
    return sandbox_signer()


def signed(file: dict[str, str], signer: Signer, content: bytes | None = None) -> dict[str, str]:
    """The upload ``file`` with ``signer``'s signature over ``content`` (default: its bytes)."""
    data = base64.b64decode(file["contentBase64"]) if content is None else content
    return {**file, "signature": signer.sign(data)}


@cache
def _configured_signer(chain_file: str, key_file: str) -> Signer:
    return load_signer(chain_file, key_file)


@cache
def sandbox_signer() -> Signer:
    """The signer of fixtures/signing, certified by the sandbox CA."""
    folder = fixtures_dir() / "signing"
    return load_signer(folder / "sandbox-signer.pem", folder / "sandbox-signer-key.pem")


@cache
def impostor() -> Signer:
    """A signer certified by a throw-away CA that bears the sandbox CA's name but not its key."""
    trusted = x509.load_pem_x509_certificate(
        (fixtures_dir() / "signing" / "sandbox-ca.pem").read_bytes()
    )
    now = datetime.now(UTC)
    valid = (now - timedelta(days=1), now + timedelta(days=30))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue_certificate(
        trusted.subject, ca_key, (trusted.subject, ca_key), valid, authority=True
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Người ký mạo danh")])
    signer = issue_certificate(subject, signer_key, (trusted.subject, ca_key), valid)
    return signer_from([signer, ca], signer_key)


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def issue_certificate(
    subject: x509.Name,
    key: PrivateKey,
    issuer: tuple[x509.Name, PrivateKey],
    valid: tuple[datetime, datetime],
    *,
    authority: bool = False,
    signing: bool = True,
) -> x509.Certificate:
    """An X.509 certificate for ``key``: a CA's (``authority``) or a signer's.

    ``issuer`` is the issuing CA's name and key (the subject's own for a self-signed CA);
    ``signing`` False gives a signer's key a usage that does not include signing.
    """
    may_sign = signing and not authority
    usage = x509.KeyUsage(
        digital_signature=may_sign,
        content_commitment=may_sign,
        key_encipherment=not authority and not signing,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=authority,
        crl_sign=authority,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0])
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=authority, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(issuer[1], hashes.SHA256())
    )


def signer_from(chain: list[x509.Certificate], key: PrivateKey) -> Signer:
    """A `Signer` of certificates (the signer's first) and its private key."""
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Signer(b"".join(c.public_bytes(pem) for c in chain), key_pem)
