"""Digital signatures of uploaded files: the verifier's rules, then the check through HTTP.

Contract: common/file.json#/$defs/signature; docs/contract-conventions.md, Digital signatures.
SUB-05 (Decree 45/2020/ND-CP Art. 9): a component that must be signed is refused without a
valid signature, with a reason naming it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conformance.signatures import (
    PrivateKey,
    Signer,
    impostor,
    issue_certificate,
    sandbox_signer,
    signed,
    signer_from,
)
from reference_impl.clock import FixedClock
from reference_impl.file_signatures import SignatureVerifier, load_anchors
from reference_impl.settings import Settings

from .conftest import Server
from .test_dossiers import (
    APPLICANT,
    act,
    attach,
    create,
    document_bytes,
    reasons,
    upload,
)

CONTENT = document_bytes("sample.pdf")
PROCEDURE_WITH_SIGNED_FORM = "1.000894"  # TKDKKH: required, PDF, must be signed
NOW = datetime.now(UTC)


def verifier(*extra: x509.Certificate, skip: tuple[str, ...] = ()) -> SignatureVerifier:
    anchors = (*load_anchors(Settings().signing_authority_files), *extra)
    return SignatureVerifier(anchors, FixedClock(NOW), skip=skip)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: PrivateKey,
    issuer: tuple[str, PrivateKey] | None = None,
    *,
    authority: bool = False,
    signing: bool = True,
    days: tuple[int, int] = (-30, 365),
) -> x509.Certificate:
    """`issue_certificate` with plain names and a validity in days around now."""
    issuer_name, issuer_key = issuer or (subject, key)
    valid = (NOW + timedelta(days=days[0]), NOW + timedelta(days=days[1]))
    return issue_certificate(
        _name(subject),
        key,
        (_name(issuer_name), issuer_key),
        valid,
        authority=authority,
        signing=signing,
    )


CA = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


@pytest.fixture(scope="module")
def own_ca() -> CA:
    """A CA of the test's own, trusted where a test passes it to `verifier`."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _certificate("Test CA", key, authority=True, days=(-400, 4000)), key


def _under(ca: CA, *, signing: bool = True, days: tuple[int, int] = (-30, 365)) -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("Người ký", key, ("Test CA", ca[1]), signing=signing, days=days)
    return signer_from([leaf, ca[0]], key)


# ---- the verifier ----------------------------------------------------------------------------


def test_a_signature_of_the_sandbox_signer_is_valid() -> None:
    signature = sandbox_signer().sign(CONTENT)
    assert verifier().reason(signature, CONTENT) is None
    header = json.loads(base64.urlsafe_b64decode(signature.split(".")[0] + "=="))
    assert header["alg"] == "ES256"
    assert header["typ"] == "egov-signature+jws"
    assert len(header["x5c"]) == 2


def test_a_signature_of_another_file_is_refused() -> None:
    reason = verifier().reason(sandbox_signer().sign(CONTENT + b"x"), CONTENT)
    assert reason is not None
    assert "SHA-256" in reason


def test_a_ca_that_only_copies_the_trusted_name_is_refused() -> None:
    reason = verifier().reason(impostor().sign(CONTENT), CONTENT)
    assert reason is not None
    assert "tin cậy" in reason


def test_a_self_signed_signer_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    alone = signer_from([_certificate("Tự ký", key)], key)
    assert verifier().reason(alone.sign(CONTENT), CONTENT) is not None


def test_an_rsa_signer_under_a_trusted_ca_is_valid(
    own_ca: CA,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = _certificate("Người ký RSA", key, ("Test CA", own_ca[1]))
    signature = signer_from([leaf, own_ca[0]], key).sign(CONTENT)
    assert json.loads(base64.urlsafe_b64decode(signature.split(".")[0] + "=="))["alg"] == "RS256"
    assert verifier(own_ca[0]).reason(signature, CONTENT) is None
    assert verifier().reason(signature, CONTENT) is not None  # that CA is not trusted by default


@pytest.mark.parametrize(
    ("signing", "days", "words"),
    [
        (True, (-400, -1), "hiệu lực"),
        (True, (1, 400), "hiệu lực"),
        (False, (-30, 365), "không cho phép ký"),  # a key for encryption only
    ],
    ids=["expired", "not-yet-valid", "not-for-signing"],
)
def test_a_certificate_that_may_not_sign_now_is_refused(
    own_ca: CA, signing: bool, days: tuple[int, int], words: str
) -> None:
    signature = _under(own_ca, signing=signing, days=days).sign(CONTENT)
    reason = verifier(own_ca[0]).reason(signature, CONTENT)
    assert reason is not None
    assert words in reason


def test_a_leaf_passed_off_as_an_issuer_is_refused(
    own_ca: CA,
) -> None:
    """A signer's certificate (not a CA) cannot certify another signer."""
    middle_key = ec.generate_private_key(ec.SECP256R1())
    middle = _certificate("Không phải CA", middle_key, ("Test CA", own_ca[1]))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("Người ký", key, ("Không phải CA", middle_key))
    signature = signer_from([leaf, middle, own_ca[0]], key).sign(CONTENT)
    reason = verifier(own_ca[0]).reason(signature, CONTENT)
    assert reason is not None
    assert "không do" in reason


@pytest.mark.parametrize(
    "signature",
    ["not-a-jws", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"],
    ids=["one-part", "garbage", "alg-none", "no-x5c"],
)
def test_a_malformed_signature_is_refused_with_a_reason(signature: str) -> None:
    assert verifier().reason(signature, CONTENT)


def test_the_faults_leave_out_only_their_check() -> None:
    assert verifier(skip=("chain",)).reason(impostor().sign(CONTENT), CONTENT) is None
    assert verifier(skip=("chain",)).reason(sandbox_signer().sign(b"x"), CONTENT) is not None
    assert verifier(skip=("digest",)).reason(sandbox_signer().sign(b"x"), CONTENT) is None
    assert verifier(skip=("digest",)).reason(impostor().sign(CONTENT), CONTENT) is not None


# ---- through HTTP ----------------------------------------------------------------------------


def _marriage_draft(server: Server) -> str:
    created = create(server, procedure=PROCEDURE_WITH_SIGNED_FORM)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_signed_component_is_received_and_marked_signed(server: Server) -> None:
    dossier_id = _marriage_draft(server)
    added = attach(server, dossier_id, "TKDKKH", signed(upload("sample.pdf"), sandbox_signer()))
    assert added.status_code == 201, added.text
    assert added.json()["file"]["signed"] is True
    answer = act(server, dossier_id, "submission", who=APPLICANT)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "submitted"


def test_an_unsigned_component_is_refused_by_the_automatic_check(server: Server) -> None:
    dossier_id = _marriage_draft(server)
    added = attach(server, dossier_id, "TKDKKH", upload("sample.pdf"))
    assert added.status_code == 201, added.text
    assert "signed" not in added.json()["file"]
    answer = act(server, dossier_id, "submission", who=APPLICANT)
    assert reasons(answer) == {("/components/0", "signature-missing")}
    assert "TKDKKH" in answer.json()["errors"][0]["detail"]


def test_a_bad_signature_is_refused_when_the_file_is_attached(server: Server) -> None:
    dossier_id = _marriage_draft(server)
    added = attach(server, dossier_id, "TKDKKH", signed(upload("sample.pdf"), impostor()))
    assert reasons(added) == {("/file/signature", "signature")}


def test_a_signed_e_result_from_the_repository_needs_no_signature_of_its_own() -> None:
    """E-results and certified e-copies are signed by the state; a digitised document is not."""
    from reference_impl.automatic_check import SIGNED_KINDS, _signed

    upload_component = {"source": "upload", "file": {"sha256": "0" * 64}}
    assert not _signed(upload_component, None)
    assert _signed({"source": "upload", "file": {"signed": True}}, None)
    assert {"result", "ecopy"} == SIGNED_KINDS
    assert _signed({"source": "repository"}, {"kind": "result"})
    assert not _signed({"source": "repository"}, {"kind": "digitised-document"})
    assert not _signed({"source": "repository"}, None)


def test_a_configured_authority_is_trusted_too(tmp_path: Path, own_ca: CA) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(own_ca[0].public_bytes(serialization.Encoding.PEM))
    settings = Settings(signing_authorities=(str(path),))
    anchors = load_anchors(settings.signing_authority_files)
    assert own_ca[0] in anchors
    assert len(anchors) == 2
    checker = SignatureVerifier(anchors, FixedClock(NOW))
    assert checker.reason(_under(own_ca).sign(CONTENT), CONTENT) is None
