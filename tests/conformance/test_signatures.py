"""The kit's file signatures: the contract's shape, the configured signer, the impostor."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from conformance.config import ConfigError, load_target, sandbox_target
from conformance.scenario import upload
from conformance.signatures import impostor, sandbox_signer, signed, signer_of
from egov_contract import contract, fixtures_dir

from .test_config import VALID, write


def _parts(signature: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = signature.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(payload)


def _sandbox_ca() -> x509.Certificate:
    path = fixtures_dir() / "signing" / "sandbox-ca.pem"
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_signed_upload_is_what_the_contract_describes() -> None:
    file = signed(upload("sample.pdf"), sandbox_signer())
    assert not list(contract().schema_validator("common/file.json#/$defs/upload").iter_errors(file))
    header, payload = _parts(file["signature"])
    assert not list(
        contract().schema_validator("common/file.json#/$defs/signatureHeader").iter_errors(header)
    )
    assert not list(
        contract().schema_validator("common/file.json#/$defs/signaturePayload").iter_errors(payload)
    )
    content = base64.b64decode(file["contentBase64"])
    assert payload["sha256"] == hashlib.sha256(content).hexdigest()
    signer = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    ca = x509.load_pem_x509_certificate(
        (fixtures_dir() / "signing" / "sandbox-ca.pem").read_bytes()
    )
    signer.verify_directly_issued_by(ca)


def test_signed_can_sign_other_bytes_than_the_file() -> None:
    file = signed(upload("sample.pdf"), sandbox_signer(), content=b"other")
    assert _parts(file["signature"])[1]["sha256"] == hashlib.sha256(b"other").hexdigest()


def test_the_impostor_bears_the_sandbox_ca_name_but_not_its_key() -> None:
    header, _ = _parts(impostor().sign(b"x"))
    fake_ca = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][-1]))
    ca = x509.load_pem_x509_certificate(
        (fixtures_dir() / "signing" / "sandbox-ca.pem").read_bytes()
    )
    assert fake_ca.subject == ca.subject
    assert fake_ca.public_key() != ca.public_key()


def test_the_sandbox_uses_the_sandbox_signer() -> None:
    assert signer_of(sandbox_target("http://127.0.0.1:1")) == sandbox_signer()


def test_a_configured_signer_is_read_relative_to_the_configuration(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "signer-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    shutil.copy(fixtures_dir() / "signing" / "sandbox-signer.pem", tmp_path / "keys" / "chain.pem")
    text = VALID.replace("{env: EGOV_TEST_TOKEN_A}", "a") + (
        "signer: {certificateChain: keys/chain.pem, privateKey: keys/signer-key.pem}\n"
    )
    config = load_target(write(tmp_path, text))
    assert config.signer_files == (
        str(tmp_path / "keys" / "chain.pem"),
        str(tmp_path / "keys" / "signer-key.pem"),
    )
    assert signer_of(config).key_pem == (tmp_path / "keys" / "signer-key.pem").read_bytes()


def test_a_missing_signer_file_is_a_configuration_error(tmp_path: Path) -> None:
    text = VALID.replace("{env: EGOV_TEST_TOKEN_A}", "a") + (
        "signer: {certificateChain: nowhere.pem, privateKey: nowhere-key.pem}\n"
    )
    with pytest.raises(ConfigError, match="signer: no such file"):
        load_target(write(tmp_path, text))
