"""Write the sandbox signing material of ``fixtures/signing``: a CA and one signer under it.

The files are public test material: the sandbox reference server trusts the CA, and the kit
signs uploads with the signer, so that procedures whose components must be signed can be
certified end to end. Run again only to replace them (the old signatures stop verifying):

    python tools/make_signing_fixtures.py
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "signing"
VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)
CA_UNTIL = datetime(2046, 1, 1, tzinfo=UTC)
SIGNER_UNTIL = datetime(2045, 1, 1, tzinfo=UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "egov-conformance sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def main() -> None:
    """Write sandbox-ca.pem, sandbox-signer.pem (chain) and sandbox-signer-key.pem."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("egov-conformance Sandbox Signing CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(CA_UNTIL)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(signing=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(_name("Nguyễn Văn Ký (sandbox signer)"))
        .issuer_name(ca_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(SIGNER_UNTIL)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signing=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sandbox-ca.pem").write_bytes(ca.public_bytes(pem))
    (OUT / "sandbox-signer.pem").write_bytes(signer.public_bytes(pem) + ca.public_bytes(pem))
    (OUT / "sandbox-signer-key.pem").write_bytes(
        signer_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


if __name__ == "__main__":
    main()
