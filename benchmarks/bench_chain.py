"""Chain-validation benchmark: signsvc against pyhanko-certvalidator and cryptography, one run.

    .venv/bin/python benchmarks/bench_chain.py [--rounds 10000] [--peer-rounds 500]

Measures, in this one process:

1. NIST PKITS, all cases (4.1.5 excepted: cryptography cannot load it), total time:
   signsvc (fresh cache per case, and one shared cache) against pyhanko-certvalidator
   0.33 (``ValidationContext`` + ``CertificateValidator``) with the same certificates,
   CRLs, time (2022-05-01), policy inputs and revocation requirement; also how many
   cases each gets right;
2. a 3-level RSA-2048 chain (root → CA → leaf, built here) with the CA's and the
   root's CRLs, validated ``--rounds`` times: signsvc cold (new cache each time) and
   warm (shared cache), pyhanko-certvalidator cold (new context) and warm (shared
   context), and cryptography's ``x509.verification`` client verifier, which has no
   revocation checking at all (so it does less work); and what the RFC 5280 §4
   profile rules and the anchor's RFC 5937 constraints add to the warm figure.

pyhanko-certvalidator is slow, so it runs ``--peer-rounds`` times and is reported per
validation. Inputs are parsed before timing for every tool. Prints each ratio against
the peer and the peak RSS. The machine is shared and noisy: compare figures within one
run only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from asn1crypto import crl as a_crl  # noqa: E402
from asn1crypto import x509 as a_x509  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.utils import CryptographyDeprecationWarning  # noqa: E402
from cryptography.x509 import verification  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402
from pyhanko_certvalidator import CertificateValidator, ValidationContext  # noqa: E402
from pyhanko_certvalidator.policy_decl import PKIXValidationParams  # noqa: E402

from signsvc import TrustStore, ValidationCache, validate_chain  # noqa: E402

warnings.simplefilter("ignore", CryptographyDeprecationWarning)
logging.disable(logging.CRITICAL)  # pyhanko-certvalidator logs every refusal with a traceback
PKITS_AT = datetime(2022, 5, 1, tzinfo=UTC)


def timed_total(fn: Callable[[], object], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def line(name: str, ours: float, peer: float, peer_name: str, unit: str = "ms") -> None:
    scale = 1e3 if unit == "ms" else 1e6
    print(f"  {name:<34} signsvc {ours * scale:10.2f} {unit}   {peer_name} "
          f"{peer * scale:10.2f} {unit}   ratio {peer / ours:6.2f}x")


# -- 1. PKITS ---------------------------------------------------------------------------


def pkits(repeat: int) -> None:
    import cryptography_vectors

    base = Path(cryptography_vectors.__file__).parent / "x509" / "PKITS_data"
    cases = json.loads((ROOT / "tests" / "data" / "pkits_cases.json").read_text())
    cases = [c for c in cases if c["id"] != "40105"]
    der: dict[str, bytes] = {}

    def raw(kind: str, name: str) -> bytes:
        if name not in der:
            der[name] = (base / kind / name).read_bytes()
        return der[name]

    prepared: list[dict[str, Any]] = []
    for case in cases:
        params = case.get("params") or {}
        crl_names = ["TrustAnchorRootCRL.crl", *case.get("crls", [])]
        checked = case.get("revocation") is not False
        prepared.append({
            "case": case,
            "leaf": x509.load_der_x509_certificate(raw("certs", case["cert"])),
            "pool": [x509.load_der_x509_certificate(raw("certs", n))
                     for n in case.get("other_certs", [])],
            "crls": [x509.load_der_x509_crl(raw("crls", n)) for n in crl_names],
            "a_leaf": a_x509.Certificate.load(raw("certs", case["cert"])),
            "a_pool": [a_x509.Certificate.load(raw("certs", n))
                       for n in case.get("other_certs", [])],
            "a_crls": [a_crl.CertificateList.load(raw("crls", n)) for n in crl_names],
            "checked": checked,
            "params": params,
        })
    anchor = x509.load_der_x509_certificate(raw("certs", "TrustAnchorRootCertificate.crt"))
    a_anchor = a_x509.Certificate.load(raw("certs", "TrustAnchorRootCertificate.crt"))
    store = TrustStore.from_certificates([anchor])
    agree = {"signsvc": 0, "pyhanko": 0}

    def ours(shared: ValidationCache | None) -> None:
        agree["signsvc"] = 0
        for item in prepared:
            p = item["params"]
            result = validate_chain(
                item["leaf"], intermediates=item["pool"], trust=store, at=PKITS_AT,
                crls=item["crls"], revocation="hard-fail" if item["checked"] else "off",
                policy="historical", initial_policies=p.get("user_initial_policy_set"),
                explicit_policy=p.get("initial_explicit_policy", False),
                inhibit_policy_mapping=p.get("initial_policy_mapping_inhibit", False),
                inhibit_any_policy=p.get("initial_any_policy_inhibit", False),
                cache=shared if shared is not None else ValidationCache(),
            )
            agree["signsvc"] += result.valid == ("error" not in item["case"])

    def peer() -> None:
        agree["pyhanko"] = 0
        for item in prepared:
            p = item["params"]
            context = ValidationContext(
                trust_roots=[a_anchor], other_certs=item["a_pool"],
                crls=item["a_crls"] if item["checked"] else [], moment=PKITS_AT,
                revocation_mode="require" if item["checked"] else "soft-fail",
                weak_hash_algos=set(),
            )
            pkix = PKIXValidationParams(
                user_initial_policy_set=frozenset(p.get("user_initial_policy_set", ["any_policy"])),
                initial_explicit_policy=p.get("initial_explicit_policy", False),
                initial_policy_mapping_inhibit=p.get("initial_policy_mapping_inhibit", False),
                initial_any_policy_inhibit=p.get("initial_any_policy_inhibit", False),
            )
            validator = CertificateValidator(item["a_leaf"], validation_context=context,
                                             pkix_params=pkix)
            try:
                asyncio.run(validator.async_validate_path())
                ok = True
            except Exception:
                ok = False
            agree["pyhanko"] += ok == ("error" not in item["case"])

    cold = timed_total(lambda: ours(None), repeat)
    shared_cache = ValidationCache()
    ours(shared_cache)
    warm = timed_total(lambda: ours(shared_cache), repeat)
    theirs = timed_total(peer, 1)
    print(f"PKITS, {len(prepared)} cases (4.1.5 skipped), total validation time:")
    line("cold (new cache per case)", cold, theirs, "pyhanko-certvalidator")
    line("warm (one shared cache)", warm, theirs, "pyhanko-certvalidator")
    print(f"  verdicts agreeing with PKITS: signsvc {agree['signsvc']}/{len(prepared)}, "
          f"pyhanko-certvalidator {agree['pyhanko']}/{len(prepared)}")


# -- 2. one 3-level RSA-2048 chain with CRLs -----------------------------------------------


def build_chain() -> dict[str, Any]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2035, 1, 1, tzinfo=UTC)
    keys = [rsa.generate_private_key(65537, 2048) for _ in range(3)]
    names = [x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
             for cn in ("Bench Root", "Bench CA", "Bench Leaf")]
    certs: list[x509.Certificate] = []
    for level in range(3):
        issuer = max(level - 1, 0)
        builder = (
            x509.CertificateBuilder().subject_name(names[level]).issuer_name(names[issuer])
            .public_key(keys[level].public_key()).serial_number(1000 + level)
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(keys[level].public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                keys[issuer].public_key()), critical=False)
        )
        if level < 2:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=True, path_length=None), critical=True
            ).add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                          False), critical=True)
        else:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=False, path_length=None), critical=True
            ).add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                          False), critical=True
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False
            ).add_extension(x509.SubjectAlternativeName([x509.RFC822Name("leaf@example.vn")]),
                            critical=False)
        certs.append(builder.sign(keys[issuer], hashes.SHA256()))
    crls = []
    for level in (0, 1):
        crl_builder = (
            x509.CertificateRevocationListBuilder().issuer_name(names[level])
            .last_update(start).next_update(end)
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                keys[level].public_key()), critical=False)
        )
        for serial in range(50):
            crl_builder = crl_builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(5000 + serial)
                .revocation_date(start + timedelta(days=serial)).build()
            )
        crls.append(crl_builder.sign(keys[level], hashes.SHA256()))
    return {"root": certs[0], "ca": certs[1], "leaf": certs[2], "crls": crls}


def chain(rounds: int, peer_rounds: int) -> None:
    data = build_chain()
    at = datetime(2026, 6, 1, tzinfo=UTC)
    root, ca, leaf, crls = data["root"], data["ca"], data["leaf"], data["crls"]
    store = TrustStore.from_certificates([root])
    der = serialization.Encoding.DER
    a_root = a_x509.Certificate.load(root.public_bytes(der))
    a_ca = a_x509.Certificate.load(ca.public_bytes(der))
    a_leaf = a_x509.Certificate.load(leaf.public_bytes(der))
    a_crls = [a_crl.CertificateList.load(c.public_bytes(der)) for c in crls]

    def ours(cache: ValidationCache | None) -> None:
        result = validate_chain(leaf, intermediates=[ca], trust=store, at=at, crls=crls,
                                revocation="hard-fail",
                                cache=cache if cache is not None else ValidationCache())
        assert result.valid, result.reason

    def peer(context: ValidationContext | None) -> None:
        ctx = context or ValidationContext(trust_roots=[a_root], other_certs=[a_ca],
                                           crls=a_crls, moment=at, revocation_mode="require")
        validator = CertificateValidator(a_leaf, validation_context=ctx)
        asyncio.run(validator.async_validate_path())

    verifier = (
        verification.PolicyBuilder().store(verification.Store([root])).time(at)
        .build_client_verifier()
    )

    def theirs() -> None:
        verifier.verify(leaf, [ca])

    def per_call(fn: Callable[[], object], n: int) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n

    shared = ValidationCache()
    shared_ctx = ValidationContext(trust_roots=[a_root], other_certs=[a_ca], crls=a_crls,
                                   moment=at, revocation_mode="require")
    ours_cold = per_call(lambda: ours(None), rounds)
    ours_warm = per_call(lambda: ours(shared), rounds)
    peer_cold = per_call(lambda: peer(None), peer_rounds)
    peer_warm = per_call(lambda: peer(shared_ctx), peer_rounds)
    crypto = per_call(theirs, rounds)
    print(f"3-level RSA-2048 chain + 2 CRLs (50 entries each), hard-fail revocation; "
          f"signsvc and cryptography x{rounds}, pyhanko x{peer_rounds}; per validation:")
    line("cold (new cache / new context)", ours_cold, peer_cold, "pyhanko-certvalidator", "us")
    line("warm (shared cache / context)", ours_warm, peer_warm, "pyhanko-certvalidator", "us")
    line("warm vs cryptography verifier*", ours_warm, crypto, "cryptography", "us")
    line("cold vs cryptography verifier*", ours_cold, crypto, "cryptography", "us")
    print("  * cryptography's verifier checks no revocation (no CRL, no OCSP): it does less.")
    print(f"  signsvc totals for {rounds}: cold {ours_cold * rounds:.2f} s, "
          f"warm {ours_warm * rounds:.2f} s; cryptography {crypto * rounds:.2f} s")
    extra_checks_cost(lambda: ours(shared), rounds)


def extra_checks_cost(warm: Callable[[], object], rounds: int) -> None:
    """What the RFC 5280 §4 profile rules and the anchor's RFC 5937 constraints add to a
    warm validation: the same call with both replaced by no-ops, alternated five times
    (best of each kept) so that machine noise hits both alike."""
    from signsvc.pki import _pathcheck

    real = (_pathcheck._profile, _pathcheck._anchor)

    def without() -> None:
        _pathcheck._profile, _pathcheck._anchor = (  # type: ignore[assignment]
            lambda *a, **k: None, lambda *a, **k: None)
        try:
            warm()
        finally:
            _pathcheck._profile, _pathcheck._anchor = real

    def best(fn: Callable[[], object]) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        return (time.perf_counter() - start) / rounds

    with_checks, no_checks = [], []
    for _ in range(5):
        with_checks.append(best(warm))
        no_checks.append(best(without))
    ours, base = min(with_checks), min(no_checks)
    print(f"  profile + anchor checks in a warm validation: {ours * 1e6:.2f} us with, "
          f"{base * 1e6:.2f} us without: {100 * (ours - base) / base:+.1f} %")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--peer-rounds", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="PKITS runs; best is kept")
    args = parser.parse_args()
    print(f"signsvc chain benchmark, Python {sys.version.split()[0]}")
    pkits(args.repeat)
    chain(args.rounds, args.peer_rounds)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: this process {rss:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
