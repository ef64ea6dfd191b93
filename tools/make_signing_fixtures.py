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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conformance.signatures import issue_certificate, signer_from

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


def main() -> None:
    """Write sandbox-ca.pem, sandbox-signer.pem (chain) and sandbox-signer-key.pem."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("egov-conformance Sandbox Signing CA")
    ca = issue_certificate(
        ca_name, ca_key, (ca_name, ca_key), (VALID_FROM, CA_UNTIL), authority=True
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = issue_certificate(
        _name("Nguyễn Văn Ký (sandbox signer)"),
        signer_key,
        (ca_name, ca_key),
        (VALID_FROM, SIGNER_UNTIL),
    )
    made = signer_from([signer, ca], signer_key)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sandbox-ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (OUT / "sandbox-signer.pem").write_bytes(made.chain_pem)
    (OUT / "sandbox-signer-key.pem").write_bytes(made.key_pem)


if __name__ == "__main__":
    main()
