"""Sessions on real SoftHSM2 tokens: pairing by CKA_ID, one login, signing, threads."""

from __future__ import annotations

import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pkcs11.mechanisms import Mechanism

import drivers
from certs_test.softhsm import SoftHSM
from drivers import TokenSession
from tests.support.paths import PKI
from tests.support.tokens import ALWAYS_AUTH, ANH, VIETTEL


def _cert(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / f"{name}.crt.pem").read_bytes())


def _open(hsm: SoftHSM, label: str) -> TokenSession:
    return drivers.load_module(hsm.module).open(label=label)


def _verify(cert: x509.Certificate, signature: bytes, data: bytes, algo: str,
            pss: bool = False) -> None:
    hash_algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                      "sha512": hashes.SHA512()}[algo]
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        scheme: padding.AsymmetricPadding = (
            padding.PSS(padding.MGF1(hash_algorithm), hash_algorithm.digest_size)
            if pss else padding.PKCS1v15()
        )
        public.verify(signature, data, scheme, hash_algorithm)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, data, ec.ECDSA(hash_algorithm))


def test_pairing_before_login_uses_public_key_objects(hsm: SoftHSM) -> None:
    with _open(hsm, ANH) as session:
        assert not session.logged_in
        entries = {e.id.hex(): e for e in session.certificates()}
    # Private keys are CKA_PRIVATE: invisible before login; the public-key object of
    # each imported pair shows the pair exists.
    assert entries["01"].key_match == "public-key-object"
    assert entries["01"].key is not None and not entries["01"].key.private
    assert entries["0e"].key_match is None  # certificate without a key
    assert entries["c1"].key_match is None  # CA certificate stored without key


def test_pairing_after_login_by_cka_id_and_public_key(hsm: SoftHSM, pin: str) -> None:
    with _open(hsm, ANH) as session:
        session.login(pin)
        assert session.logged_in
        entries = {e.id.hex(): e for e in session.certificates()}
        orphans = session.orphan_keys()

    assert set(entries) == {"01", "02", "0e", "bb", "c1"}
    rsa_entry = entries["01"]
    assert rsa_entry.key_match == "id"
    assert rsa_entry.key is not None and rsa_entry.key.private
    assert rsa_entry.key.label == ""  # empty key label, paired anyway
    assert rsa_entry.label == "Nguyễn Thị Lấp Lánh Ánh's Ban Cơ yếu Chính phủ Certificate"
    assert rsa_entry.certificate == _cert("official-rsa2048")

    ec_entry = entries["02"]
    assert ec_entry.key_match == "id"
    assert ec_entry.key is not None and (ec_entry.key.key_type, ec_entry.key.key_size) == (
        "EC", 256)

    # Key imported as CKA_ID aa, certificate as bb: the public key pairs them.
    assert entries["bb"].key_match == "public-key"
    assert entries["bb"].key is not None and entries["bb"].key.id == bytes.fromhex("aa")

    assert not entries["0e"].has_private_key
    assert not entries["c1"].has_private_key

    assert [(k.id.hex(), k.label, k.key_type, k.key_size) for k in orphans] == [
        ("0f", "Khóa mồ côi", "EC", 256)
    ]


def test_viettel_labels_key_found_by_id(hsm: SoftHSM, pin: str) -> None:
    with _open(hsm, VIETTEL) as session:
        session.login(pin)
        key = session.key()  # the only certificate with a key
        assert key.id == bytes.fromhex("a1")
        assert key.label == "Viettel-CA Private Key"
        assert key.certificate == _cert("official-viettel")
        assert key.certificate.subject.get_attributes_for_oid(
            x509.NameOID.COMMON_NAME)[0].value == "TRẦN NGỌC TÚ"
        # The CA certificates stored on the token form the chain, nearest first.
        assert key.chain == (_cert("viettel-ca"), _cert("vn-root"))
        labels = {e.label for e in session.certificates()}
    assert "TRẦN NGỌC TÚ's Viettel-CA SHA2 Certificate" in labels


@pytest.mark.parametrize("algo", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("pss", [False, True])
def test_rsa_signatures_verify(hsm: SoftHSM, pin: str, algo: str, pss: bool) -> None:
    data = f"Quyết định số 123/QĐ-UBND {algo} {pss}".encode()
    with _open(hsm, ANH) as session:
        session.login(pin)
        key = session.key(bytes.fromhex("01"))
        signature = key.sign(data, hash_algorithm=algo, pss=pss)
    assert len(signature) == 256
    _verify(_cert("official-rsa2048"), signature, data, algo, pss)


@pytest.mark.parametrize("algo", ["sha256", "sha384"])
def test_ecdsa_signature_is_der_and_verifies(hsm: SoftHSM, pin: str, algo: str) -> None:
    data = b"ECDSA on SoftHSM, which has no CKM_ECDSA_SHA256"
    with _open(hsm, ANH) as session:
        session.login(pin)
        key = session.key(bytes.fromhex("02"))
        signature = key.sign(data, hash_algorithm=algo)
    r, s = decode_dss_signature(signature)  # raises unless DER ECDSA-Sig-Value
    assert r > 0 and s > 0
    _verify(_cert("official-ec"), signature, data, algo)


def test_public_key_paired_key_signs(hsm: SoftHSM, pin: str) -> None:
    with _open(hsm, ANH) as session:
        session.login(pin)
        key = session.key(bytes.fromhex("bb"))
        signature = key.sign(b"org")
    _verify(_cert("org-omon"), signature, b"org", "sha256")


def test_key_selection_errors(hsm: SoftHSM, pin: str) -> None:
    with _open(hsm, ANH) as session:
        with pytest.raises(drivers.KeyNotFoundError, match="not logged in"):
            session.key(bytes.fromhex("01"))
        session.login(pin)
        with pytest.raises(drivers.AmbiguousSelectionError) as ambiguous:
            session.key()
        assert len(ambiguous.value.candidates) == 3  # 01, 02 and bb have keys
        with pytest.raises(drivers.KeyNotFoundError) as no_key:
            session.key(bytes.fromhex("0e"))
        assert "private key for the certificate with CKA_ID 0e" in str(no_key.value)
        assert no_key.value.token == ANH
        with pytest.raises(drivers.KeyNotFoundError, match="certificate with CKA_ID 99"):
            session.key(bytes.fromhex("99"))


def test_wrong_pin_is_one_clean_error(hsm: SoftHSM, pin: str) -> None:
    module = drivers.load_module(hsm.module)
    info = module.find_token(label="Sở Nội vụ")
    with module.open(token=info) as session, pytest.raises(drivers.PinIncorrectError) as err:
        session.login("000000")
    exc = err.value
    assert type(exc) is drivers.PinIncorrectError
    assert exc.token == "Sở Nội vụ"
    assert "000000" not in str(exc)
    # SoftHSM never sets CKF_USER_PIN_FINAL_TRY: "unknown", not a reassuring False.
    assert exc.final_try is None
    # The failed login left no half-open state: the right PIN works at once.
    with module.open(token=info) as session:
        session.login(pin)
        assert session.logged_in


def test_login_is_not_repeated_when_already_logged_in(hsm: SoftHSM, pin: str) -> None:
    module = drivers.load_module(hsm.module)
    with module.open(label=VIETTEL) as first:
        first.login(pin)
        with module.open(label=VIETTEL) as second:
            assert second.logged_in  # PKCS#11 login state is per application and token
            # Already logged in: no C_Login is made, so even a wrong PIN is not tried.
            second.login("not-the-pin")
            assert second.logged_in


def test_eight_threads_sign_at_once(hsm: SoftHSM, pin: str) -> None:
    """python-pkcs11 disables SoftHSM's locking; the module lock must make this safe."""
    module = drivers.load_module(hsm.module)
    errors: list[BaseException] = []
    counts = [0] * 8
    certificate = _cert("official-rsa2048")
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        try:
            with module.open(label=ANH) as session:
                session.login(pin)
                key = session.key(bytes.fromhex("01" if index % 2 else "02"))
                barrier.wait()
                for n in range(25):
                    data = f"{index}-{n}".encode()
                    signature = key.sign(data)
                    if index % 2:
                        _verify(certificate, signature, data, "sha256")
                    counts[index] += 1
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert counts == [25] * 8


def test_always_authenticate_key_signs_each_time(hsm: SoftHSM, pin: str) -> None:
    with _open(hsm, ALWAYS_AUTH) as session:
        session.login(pin)
        key = session.key()
        assert key.always_authenticate
        for n in range(3):
            data = f"văn bản {n}".encode()
            _verify(_cert("official-rsa2048"), key.sign(data), data, "sha256")


def test_always_authenticate_needs_the_session_pin(hsm: SoftHSM, pin: str) -> None:
    module = drivers.load_module(hsm.module)
    with module.open(label=ALWAYS_AUTH) as first:
        first.login(pin)
        # A second session of the same application is logged in already, but was
        # never given a PIN: it cannot make the per-signature login.
        with module.open(label=ALWAYS_AUTH) as second:
            key = second.key()
            with pytest.raises(drivers.LoginRequiredError, match="CKA_ALWAYS_AUTHENTICATE"):
                key.sign(b"x")


def test_module_loaded_elsewhere_is_reused(hsm: SoftHSM) -> None:
    import pkcs11

    # conftest loaded SoftHSM through python-pkcs11 under its symlink path (as pyHanko
    # does); loading it by the resolved path must reuse that handle, not re-initialise.
    assert str(hsm.module) in pkcs11._loaded
    module = drivers.load_module(hsm.module.resolve())
    assert module is drivers.load_module(hsm.module)
    assert module._lib is pkcs11._loaded[str(hsm.module)]


@pytest.mark.parametrize(
    ("listed", "pss"),
    [
        # Many ePass2003-based tokens list only the raw mechanisms: the hash is then
        # computed on the host (with a DigestInfo for PKCS#1 v1.5, RFC 8017 §9.2).
        ({Mechanism.RSA_PKCS}, False),
        ({Mechanism.RSA_PKCS_PSS}, True),
    ],
)
@pytest.mark.parametrize("algo", ["sha256", "sha512"])
def test_host_side_hash_with_raw_mechanisms(hsm: SoftHSM, pin: str, listed: set[Mechanism],
                                            pss: bool, algo: str) -> None:
    data = b"hash on the host, sign on the token"
    with _open(hsm, ANH) as session:
        session.login(pin)
        assert Mechanism.SHA256_RSA_PKCS in session.mechanisms()  # SoftHSM has both
        session._mechanisms = frozenset(listed)  # as a token listing only these
        signature = session.key(bytes.fromhex("01")).sign(data, hash_algorithm=algo, pss=pss)
    _verify(_cert("official-rsa2048"), signature, data, algo, pss)


def test_no_usable_mechanism_names_what_is_listed(hsm: SoftHSM, pin: str) -> None:
    with _open(hsm, ANH) as session:
        session.login(pin)
        session._mechanisms = frozenset({Mechanism.SHA256_RSA_PKCS})
        key = session.key(bytes.fromhex("02"))  # EC key, no ECDSA mechanism listed
        with pytest.raises(drivers.MechanismUnsupportedError) as info:
            key.sign(b"x")
    assert info.value.wanted == "ECDSA with sha256"
    assert info.value.available == ("SHA256_RSA_PKCS",)
