"""RFC 5280 conformance benchmark on x509-limbo: signsvc, pyhanko-certvalidator, cryptography.

    .venv/bin/python benchmarks/bench_rfc5280.py --limbo /tmp/limbo/limbo.json
        [--timeout 10] [--repeat 1] [--only 'rfc5280::nc::*'] [--json]
        [--validators signsvc,pyhanko,cryptography] [--show false-accepts --show false-rejects]

x509-limbo (https://github.com/C2SP/x509-limbo) is an independent suite of path-validation
test cases, each a trust set, untrusted intermediates, a peer (leaf) certificate, a time,
usage constraints and an expected SUCCESS or FAILURE. Nothing from it is part of this
project: the compiled suite is read from ``--limbo PATH`` (default ``$LIMBO_JSON``). It is
built outside the project, in its own virtual environment::

    mkdir -p /tmp/limbo-src /tmp/limbo
    git --git-dir=/work/.mirror/C2SP+x509-limbo/repo archive HEAD -- . \\
        ':(exclude)limbo.json' ':(exclude)limbo/_assets/bettertls.json' \\
        | tar -x -C /tmp/limbo-src
    python3.11 -m venv /tmp/limbo-venv
    /tmp/limbo-venv/bin/pip install 'pydantic~=2.13' 'cryptography~=46.0' 'pyyaml~=6.0' \\
        pyOpenSSL certifi 'requests~=2.33' Jinja2
    /tmp/limbo-venv/bin/pip install --no-deps -e /tmp/limbo-src
    cd /tmp/limbo-src && /tmp/limbo-venv/bin/python -c "import sys, \\
        limbo.testcases.bettertls as b; b.register_testcases = lambda: None; \\
        from limbo._cli import main; sys.argv[0] = 'limbo'; main()" \\
        compile -o /tmp/limbo/limbo.json

With a complete clone (the BetterTLS asset present) the last step is simply
``limbo compile -o /tmp/limbo/limbo.json`` (``make limbo.json`` in the clone). The local
mirror lacks ``limbo/_assets/bettertls.json`` (and the committed ``limbo.json``), so the
commands above skip the ``bettertls::`` cases (``git archive`` still prints "error: invalid
object ... bettertls.json", and carries on); ``--no-deps`` avoids the ``oscrypto`` git
dependency, which only limbo's own certvalidator harness needs. Each compile generates fresh
keys, so two builds differ byte for byte (the sha256 printed) but not in their cases.

For every case, in this one process, with inputs parsed before timing:

1. signsvc ``validate_chain`` (a fresh ``ValidationCache`` and a
   ``TrustStore.from_certificates(..., known_intermediates=False)`` per case; the case's
   extended key usages as OIDs, key usages, ``max_depth``; its CRLs with
   ``revocation="hard-fail"``, else ``revocation="off"``); accept means ``result.valid``;
2. pyhanko-certvalidator (``ValidationContext`` with the same roots, intermediates, time,
   CRLs and ``revocation_mode="require"`` when there are CRLs, no fetching;
   ``CertificateValidator.async_validate_usage`` with the key usages and EKUs);
3. cryptography's ``x509.verification``: a server verifier for the expected peer name
   (DNS or IP) in SERVER cases, a client verifier in CLIENT cases (the EKU is then fixed:
   serverAuth or clientAuth); key usage, which it takes no input for, is checked on the
   leaf afterwards.

Each validation gets ``--timeout`` seconds (``signal.setitimer``); a case that runs over is a
*hang* (the timer interrupts Python code only: native code, such as cryptography's, is
stopped when it returns). An exception other than the validator's own refusal is an
*error*: scored as a refusal (an error on a SUCCESS case is also a false reject) but listed
on its own. A case whose inputs a validator cannot express is *skipped* for it:
pyhanko-certvalidator has no maximum-depth input; cryptography checks no CRLs, only the EKU
its verifier implies, and needs a peer name for a SERVER case (its client verifier would
demand clientAuth).

Which cases count. signsvc and pyhanko-certvalidator validate paths (RFC 5280 §6); neither
matches a TLS peer name (RFC 6125). The headline set is the namespaces ``rfc5280::``,
``pathological::`` and ``pathlen::``, minus the FAILURE cases whose failure depends only on
the peer name (:data:`PEER_NAME_ONLY`, each with its reason; ``cryptography`` is the only
one of the three that can pass them). Every headline FAILURE case whose peer name the leaf
does not certify (a plain RFC 6125 match on its SAN, or CN without SAN) is listed as kept
when its description gives a path-validation reason (a name constraint, a malformed SAN),
so the rule can be audited. Other namespaces (``webpki::``, ``crl::``, ``cve::``,
``invalid::``, ``online::``, ``bettertls::`` when present) are reported per namespace, in
full; many ``webpki::`` failures are peer-name or CA/B Forum rules, not RFC 5280.

Prints, per group and validator: cases run, agreeing with limbo, false accepts (expected
FAILURE, accepted), false rejects (expected SUCCESS, refused), errors, hangs, skipped, time;
total time per validator and the ratio signsvc/peer on the cases both ran; how often signsvc
and cryptography agree; the peak RSS. ``--json`` prints all of it, per case, as JSON.
``--show false-accepts`` (``false-rejects``, ``errors``, ``hangs``, ``disagreements``) lists
signsvc's cases of that kind with limbo's summary and signsvc's reason. The machine is shared
and noisy: compare times within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import gc
import hashlib
import ipaddress
import json
import logging
import os
import re
import resource
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cryptography  # noqa: E402
import pyhanko_certvalidator  # noqa: E402
from asn1crypto import crl as a_crl  # noqa: E402
from asn1crypto import x509 as a_x509  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.utils import CryptographyDeprecationWarning  # noqa: E402
from cryptography.x509 import verification  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from pyhanko_certvalidator import CertificateValidator, ValidationContext  # noqa: E402
from pyhanko_certvalidator.errors import (  # noqa: E402
    CRLValidationError,
    OCSPValidationError,
    PathError,
    ValidationError,
)

import signsvc  # noqa: E402
from signsvc import TrustStore, ValidationCache, validate_chain  # noqa: E402

warnings.simplefilter("ignore", CryptographyDeprecationWarning)
logging.disable(logging.CRITICAL)  # pyhanko-certvalidator logs every refusal with a traceback

VALIDATORS = ("signsvc", "pyhanko", "cryptography")
PEER_LABEL = {"pyhanko": "pyhanko-certvalidator", "cryptography": "cryptography"}
HEADLINE_NAMESPACES = ("rfc5280", "pathological", "pathlen")

PEER_NAME_ONLY = {
    "rfc5280::ca-as-leaf-wrong-san":
        "the chain is valid (see rfc5280::ca-as-leaf); only the leaf's SAN "
        "(ca.example.com) differs from the expected peer name",
    "rfc5280::nc::nc-forbids-dnsname-wildcard-san":
        "the leaf's SAN *.example.com is outside the excluded subtree bar.example.com; "
        "the failure is that the wildcard would certify the excluded peer name",
}
"""Headline FAILURE cases excluded because only a TLS peer-name check can fail them."""

EKU_OIDS = {
    "anyExtendedKeyUsage": "2.5.29.37.0",
    "serverAuth": "1.3.6.1.5.5.7.3.1",
    "clientAuth": "1.3.6.1.5.5.7.3.2",
    "codeSigning": "1.3.6.1.5.5.7.3.3",
    "emailProtection": "1.3.6.1.5.5.7.3.4",
    "timeStamping": "1.3.6.1.5.5.7.3.8",
    "OCSPSigning": "1.3.6.1.5.5.7.3.9",
}
PYHANKO_EKU = {  # asn1crypto's names for the same purposes
    "anyExtendedKeyUsage": "any_extended_key_usage",
    "serverAuth": "server_auth",
    "clientAuth": "client_auth",
    "codeSigning": "code_signing",
    "emailProtection": "email_protection",
    "timeStamping": "time_stamping",
    "OCSPSigning": "ocsp_signing",
}
KU_ATTRS = {  # limbo's (RFC 5280 §4.2.1.3) names -> cryptography's KeyUsage attributes
    "digitalSignature": "digital_signature",
    "contentCommitment": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only",
    "decipherOnly": "decipher_only",
}
PYHANKO_KU = {**KU_ATTRS, "contentCommitment": "non_repudiation"}
SHOW_CHOICES = ("false-accepts", "false-rejects", "errors", "hangs", "disagreements")


# -- the cases ----------------------------------------------------------------------------


@dataclass
class Case:
    """One limbo test case, parsed once for every validator."""

    id: str
    namespace: str
    expected: str
    summary: str
    kind: str
    peer: dict[str, str] | None
    at: datetime
    eku: list[str]
    key_usage: list[str]
    max_depth: int | None
    signature_algorithms: list[str]
    headline: bool
    conflicts_with: list[str] = field(default_factory=list)
    excluded: str | None = None
    peer_certified: bool | None = True
    load_error: str | None = None
    leaf: x509.Certificate | None = None
    trusted: list[x509.Certificate] = field(default_factory=list)
    pool: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    a_leaf: a_x509.Certificate | None = None
    a_trusted: list[a_x509.Certificate] = field(default_factory=list)
    a_pool: list[a_x509.Certificate] = field(default_factory=list)
    a_crls: list[a_crl.CertificateList] = field(default_factory=list)


def summarise(description: str) -> str:
    """limbo's description without its "Produces the following chain:" preamble and
    diagram: the first sentence-bearing paragraph, on one line."""
    text = re.sub(r"```.*?```", "\n\n", description, flags=re.S)
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    paras = [p for p in paras if p]
    for i, line in enumerate(paras):
        preamble = line.startswith("Produces") and (line.endswith(":") or len(line) < 70)
        if not preamble or i == len(paras) - 1:
            return line if len(line) <= 200 else line[:197] + "..."
    return " ".join(description.split())[:200]


def _dns_match(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    # RFC 6125 §6.4.3: a wildcard only as the whole left-most label, matching one label.
    return pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]


def peer_certified(leaf: x509.Certificate, peer: dict[str, str] | None) -> bool | None:
    """Whether the leaf names the expected peer (None: cannot tell, e.g. malformed SAN)."""
    if peer is None:
        return True
    try:
        san: x509.SubjectAlternativeName | None = leaf.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    except Exception:  # an undecodable or duplicated extension
        return None
    try:
        if peer["kind"] == "IP":
            wanted = ipaddress.ip_address(peer["value"])
            return san is not None and wanted in san.get_values_for_type(x509.IPAddress)
        if peer["kind"] == "DNS":
            if san is not None:
                names = san.get_values_for_type(x509.DNSName)
            else:  # legacy: the CN, only when there is no SAN (RFC 6125 §6.4.4)
                names = [str(a.value) for a in
                         leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
            return any(_dns_match(n, peer["value"]) for n in names)
    except ValueError:
        return None
    return None


def _aware(value: str | None, now: datetime) -> datetime:
    if value is None:
        return now
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def load_cases(path: Path, now: datetime, only: list[str]) -> list[Case]:
    suite = json.loads(path.read_text())
    cases: list[Case] = []
    der = serialization.Encoding.DER
    for tc in suite["testcases"]:
        if only and not any(fnmatch.fnmatchcase(tc["id"], pat) for pat in only):
            continue
        namespace = tc["id"].split("::", 1)[0]
        case = Case(
            id=tc["id"], namespace=namespace, expected=tc["expected_result"],
            summary=summarise(tc.get("description", "")), kind=tc["validation_kind"],
            peer=tc.get("expected_peer_name"), at=_aware(tc.get("validation_time"), now),
            eku=list(tc.get("extended_key_usage") or []),
            key_usage=list(tc.get("key_usage") or []), max_depth=tc.get("max_chain_depth"),
            signature_algorithms=list(tc.get("signature_algorithms") or []),
            headline=namespace in HEADLINE_NAMESPACES,
            conflicts_with=list(tc.get("conflicts_with") or []),
        )
        try:
            case.leaf = x509.load_pem_x509_certificate(tc["peer_certificate"].encode())
            case.trusted = [x509.load_pem_x509_certificate(p.encode())
                            for p in tc["trusted_certs"]]
            case.pool = [x509.load_pem_x509_certificate(p.encode())
                         for p in tc["untrusted_intermediates"]]
            case.crls = [x509.load_pem_x509_crl(p.encode()) for p in tc.get("crls") or []]
            case.a_leaf = a_x509.Certificate.load(case.leaf.public_bytes(der))
            case.a_trusted = [a_x509.Certificate.load(c.public_bytes(der)) for c in case.trusted]
            case.a_pool = [a_x509.Certificate.load(c.public_bytes(der)) for c in case.pool]
            case.a_crls = [a_crl.CertificateList.load(c.public_bytes(der)) for c in case.crls]
        except Exception as exc:
            case.load_error = f"{type(exc).__name__}: {exc}"
        if case.leaf is not None and case.kind == "SERVER":
            case.peer_certified = peer_certified(case.leaf, case.peer)
        if case.headline and case.id in PEER_NAME_ONLY:
            case.excluded = PEER_NAME_ONLY[case.id]
        cases.append(case)
    return cases


# -- the validators -----------------------------------------------------------------------


def _eku_oid(name: str) -> str:
    return EKU_OIDS.get(name, name)  # limbo also allows dotted OIDs


def run_signsvc(case: Case) -> tuple[str, str]:
    assert case.leaf is not None
    store = TrustStore.from_certificates(case.trusted, known_intermediates=False)
    result = validate_chain(
        case.leaf, intermediates=case.pool, trust=store, at=case.at, crls=case.crls,
        revocation="hard-fail" if case.crls else "off",
        extended_key_usage=[_eku_oid(e) for e in case.eku] or None,
        key_usage=case.key_usage or None, max_depth=case.max_depth, cache=ValidationCache(),
    )
    if result.valid:
        return "accept", result.reason
    sub = result.sub_indication.value if result.sub_indication else "-"
    return "reject", f"{sub} [{result.rule}] {result.reason}"


def run_pyhanko(case: Case) -> tuple[str, str]:
    context = ValidationContext(
        trust_roots=case.a_trusted, other_certs=case.a_pool, moment=case.at,
        allow_fetching=False, crls=case.a_crls or None,
        revocation_mode="require" if case.crls else "soft-fail",
    )
    validator = CertificateValidator(case.a_leaf, validation_context=context)
    key_usage = {PYHANKO_KU.get(k, k) for k in case.key_usage}
    eku = {PYHANKO_EKU.get(e, e) for e in case.eku} or None
    try:
        # extended_optional: RFC 5280 §4.2.1.12, a leaf without EKU may serve any purpose.
        usage = validator.async_validate_usage(  # type: ignore[no-untyped-call]  # untyped
            key_usage, eku, extended_optional=True)
        asyncio.run(usage)
    except (PathError, ValidationError, CRLValidationError, OCSPValidationError) as exc:
        return "reject", f"{type(exc).__name__}: {exc}"
    return "accept", ""


def _subject(peer: dict[str, str]) -> verification.Subject:
    if peer["kind"] == "IP":
        return x509.IPAddress(ipaddress.ip_address(peer["value"]))
    return x509.DNSName(peer["value"])


def _server(case: Case) -> bool:
    return case.kind == "SERVER" and case.peer is not None and case.peer["kind"] in ("DNS", "IP")


def run_cryptography(case: Case) -> tuple[str, str]:
    assert case.leaf is not None
    builder = verification.PolicyBuilder().store(verification.Store(case.trusted)).time(case.at)
    if case.max_depth is not None:
        builder = builder.max_chain_depth(case.max_depth)
    verifier: verification.ServerVerifier | verification.ClientVerifier
    if _server(case):
        assert case.peer is not None
        try:
            verifier = builder.build_server_verifier(_subject(case.peer))
        except ValueError as exc:  # a peer name it refuses to match against
            return "reject", f"peer name refused: {exc}"
    else:
        verifier = builder.build_client_verifier()
    try:
        verifier.verify(case.leaf, case.pool)
    except verification.VerificationError as exc:
        return "reject", str(exc)
    if case.key_usage:  # no key-usage input: RFC 5280 §4.2.1.3 on the leaf, afterwards
        try:
            ku = case.leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            return "accept", "no keyUsage extension"
        if not any(_ku_bit(ku, KU_ATTRS[k]) for k in case.key_usage if k in KU_ATTRS):
            return "reject", f"keyUsage lacks all of {case.key_usage}"
    return "accept", ""


def _ku_bit(ku: x509.KeyUsage, attr: str) -> bool:
    try:
        return bool(getattr(ku, attr))
    except ValueError:  # encipher_only / decipher_only without keyAgreement
        return False


RUNNERS: dict[str, Callable[[Case], tuple[str, str]]] = {
    "signsvc": run_signsvc,
    "pyhanko": run_pyhanko,
    "cryptography": run_cryptography,
}


def skip_reason(validator: str, case: Case) -> str | None:
    """Why ``validator`` cannot be asked this case's question, if it cannot."""
    if case.signature_algorithms:
        return "no input for a signature-algorithm constraint"
    if validator == "pyhanko" and case.max_depth is not None:
        return "no maximum-depth input"
    if validator == "cryptography":
        if case.crls:
            return "no CRL checking"
        if case.kind == "SERVER" and not _server(case):
            return "a SERVER case without a peer name (its client verifier demands clientAuth)"
        implied = "serverAuth" if _server(case) else "clientAuth"
        if any(e != implied for e in case.eku):
            return f"its verifier only checks {implied}"
    return None


# -- running ------------------------------------------------------------------------------


class _Hang(BaseException):
    """Raised by the interval timer; a BaseException so that no validator's own
    ``except Exception`` turns a timeout into a refusal."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hang


@dataclass
class Outcome:
    verdict: str  # accept, reject, error, hang, skipped
    seconds: float
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"verdict": self.verdict, "seconds": round(self.seconds, 6),
                "detail": self.detail}


def evaluate(validator: str, case: Case, timeout: float, repeat: int) -> Outcome:
    if case.load_error is not None:
        return Outcome("error", 0.0, f"could not load the case: {case.load_error}")
    reason = skip_reason(validator, case)
    if reason is not None:
        return Outcome("skipped", 0.0, reason)
    runner = RUNNERS[validator]
    best = float("inf")
    verdict, detail = "error", ""
    for _ in range(repeat):
        start = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            verdict, detail = runner(case)
        except _Hang:
            return Outcome("hang", time.perf_counter() - start,
                           f"no verdict within {timeout:g} s")
        except Exception as exc:
            verdict, detail = "error", f"{type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        best = min(best, time.perf_counter() - start)
    detail = " ".join(detail.split())
    return Outcome(verdict, best, detail if len(detail) <= 1000 else detail[:997] + "...")


def kind(case: Case, outcome: Outcome) -> str:
    """How an outcome scores: agree, false-accept, false-reject, hang or skipped."""
    if outcome.verdict in ("skipped", "hang"):
        return outcome.verdict
    accepted = outcome.verdict == "accept"
    if accepted == (case.expected == "SUCCESS"):
        return "agree"
    return "false-accept" if accepted else "false-reject"


def tally(cases: list[Case], results: dict[str, dict[str, Outcome]],
          validator: str) -> dict[str, Any]:
    counts = {"cases": len(cases), "run": 0, "agree": 0, "false_accepts": 0,
              "false_rejects": 0, "errors": 0, "hangs": 0, "skipped": 0, "seconds": 0.0}
    for case in cases:
        outcome = results[case.id][validator]
        k = kind(case, outcome)
        if k == "skipped":
            counts["skipped"] += 1
            continue
        counts["run"] += 1
        counts["seconds"] += outcome.seconds
        counts["errors"] += outcome.verdict == "error"
        counts[{"agree": "agree", "false-accept": "false_accepts",
                "false-reject": "false_rejects", "hang": "hangs"}[k]] += 1
    return counts


def groups(cases: list[Case]) -> dict[str, list[Case]]:
    out: dict[str, list[Case]] = {"HEADLINE": [c for c in cases if c.headline and not c.excluded]}
    for ns in sorted({c.namespace for c in cases},
                     key=lambda n: (n not in HEADLINE_NAMESPACES, n)):
        out[f"{ns}::"] = [c for c in cases if c.namespace == ns and not c.excluded]
    excluded = [c for c in cases if c.excluded]
    if excluded:
        out["excluded: peer name"] = excluded
    out["ALL"] = cases
    return out


def timing(cases: list[Case], results: dict[str, dict[str, Outcome]],
           peer: str) -> dict[str, Any]:
    """signsvc against ``peer`` on the cases both ran to a verdict (no skip, no hang)."""
    common = [c for c in cases
              if results[c.id]["signsvc"].verdict not in ("skipped", "hang")
              and results[c.id][peer].verdict not in ("skipped", "hang")]
    ours = sum(results[c.id]["signsvc"].seconds for c in common)
    theirs = sum(results[c.id][peer].seconds for c in common)
    return {"cases": len(common), "signsvc_seconds": ours, "peer_seconds": theirs,
            "ratio_signsvc_over_peer": ours / theirs if theirs else None}


def agreement(cases: list[Case], results: dict[str, dict[str, Outcome]],
              other: str) -> dict[str, Any]:
    both = [c for c in cases
            if results[c.id]["signsvc"].verdict not in ("skipped", "hang")
            and results[c.id][other].verdict not in ("skipped", "hang")]
    differ = [c.id for c in both
              if (results[c.id]["signsvc"].verdict == "accept")
              != (results[c.id][other].verdict == "accept")]
    return {"cases": len(both), "same_verdict": len(both) - len(differ), "differ": differ}


# -- output -------------------------------------------------------------------------------


def print_tables(report: dict[str, Any], validators: list[str]) -> None:
    head = (f"  {'group':<28} {'validator':<22} {'run':>4} {'agree':>5} {'F-acc':>5} "
            f"{'F-rej':>5} {'err':>4} {'hang':>4} {'skip':>4} {'time s':>8}")
    print(head)
    for group, per in report["summary"].items():
        for i, name in enumerate(validators):
            c = per[name]
            label = f"{group} ({c['cases']})" if i == 0 else ""
            print(f"  {label:<28} {PEER_LABEL.get(name, name):<22} {c['run']:>4} "
                  f"{c['agree']:>5} {c['false_accepts']:>5} {c['false_rejects']:>5} "
                  f"{c['errors']:>4} {c['hangs']:>4} {c['skipped']:>4} {c['seconds']:>8.3f}")
    print("  F-acc: expected FAILURE, accepted; F-rej: expected SUCCESS, refused or errored"
          " (errors count as refusals); time includes hangs (each its timeout).")


def print_report(report: dict[str, Any], cases: list[Case],
                 results: dict[str, dict[str, Outcome]], validators: list[str],
                 show: list[str]) -> None:
    meta = report["meta"]
    print(f"x509-limbo conformance, {meta['limbo']['testcases']} cases from "
          f"{meta['limbo']['path']} (sha256 {meta['limbo']['sha256'][:16]}...)")
    print(f"  signsvc {meta['versions']['signsvc']}, pyhanko-certvalidator "
          f"{meta['versions']['pyhanko-certvalidator']}, cryptography "
          f"{meta['versions']['cryptography']}, Python {meta['versions']['python']}; "
          f"timeout {meta['timeout']:g} s, best of {meta['repeat']}; cases without a "
          f"validation time use {meta['now']}")
    print(f"  signsvc from {meta['signsvc_tree'] or 'an unknown tree'}")
    head = report["headline"]
    print(f"Headline: namespaces {', '.join(n + '::' for n in HEADLINE_NAMESPACES)}, "
          f"{head['cases']} cases; {len(head['excluded'])} excluded (failure depends only "
          "on the peer name):")
    for item in head["excluded"]:
        print(f"  - {item['id']}: {item['reason']}")
    if head["kept_peer_not_certified"]:
        print("  kept although the leaf does not certify the peer name (the case's stated "
              "reason is a path-validation rule):")
        for item in head["kept_peer_not_certified"]:
            print(f"  - {item['id']} ({item['peer']}; "
                  f"{'unknown' if item['certified'] is None else 'not certified'})")
    print()
    print_tables(report, validators)
    if len(validators) > 1:
        print()
        print("Total validation time (inputs parsed beforehand), signsvc against each peer on "
              "the cases both ran:")
    for peer in validators:
        if peer == "signsvc":
            continue
        for scope in ("HEADLINE", "ALL"):
            t = report["timing"][peer][scope]
            ratio = t["ratio_signsvc_over_peer"]
            print(f"  {scope:<8} {t['cases']:>4} cases  signsvc {t['signsvc_seconds']:8.3f} s  "
                  f"{PEER_LABEL[peer]} {t['peer_seconds']:8.3f} s  signsvc/peer "
                  f"{'n/a' if ratio is None else f'{ratio:6.2f}x'}")
    if "cryptography" in validators:
        for scope in ("HEADLINE", "ALL"):
            a = report["agreement_signsvc_cryptography"][scope]
            print(f"signsvc and cryptography, {scope.lower()}: same verdict on "
                  f"{a['same_verdict']}/{a['cases']} cases both ran")
    conflicts = sorted({tuple(sorted((c.id, o))) for c in cases for o in c.conflicts_with
                        if o in results})
    if conflicts:
        print("Mutually exclusive cases (limbo's conflicts_with: no validator can pass both):")
        for a, b in conflicts:
            print(f"  - {a} / {b}: signsvc {results[a]['signsvc'].verdict} / "
                  f"{results[b]['signsvc'].verdict}")
    unloadable = [c for c in cases if c.load_error]
    if unloadable:
        print("Cases that could not be loaded:")
        for c in unloadable:
            print(f"  - {c.id}: {c.load_error}")
    others = [ns for ns in report["peer_not_certified_by_namespace"] if ns]
    if others:
        print("Expected-FAILURE cases whose leaf does not certify the peer name (only a "
              "name-matching validator can pass them), outside the headline: "
              + ", ".join(f"{ns}:: {n}" for ns, n in
                          report["peer_not_certified_by_namespace"].items()))
    for what in show:
        show_cases(what, cases, results)
    print(f"peak RSS: this process {report['peak_rss_mib']:.1f} MiB")


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def show_cases(what: str, cases: list[Case], results: dict[str, dict[str, Outcome]]) -> None:
    wanted: Callable[[Case, Outcome], bool] = {
        "false-accepts": lambda c, o: kind(c, o) == "false-accept",
        "false-rejects": lambda c, o: kind(c, o) == "false-reject",
        "errors": lambda c, o: o.verdict == "error",
        "hangs": lambda c, o: o.verdict == "hang",
        "disagreements": lambda c, o: "cryptography" in results[c.id]
        and results[c.id]["cryptography"].verdict not in ("skipped", "hang")
        and o.verdict not in ("skipped", "hang")
        and (o.verdict == "accept") != (results[c.id]["cryptography"].verdict == "accept"),
    }[what]
    chosen = [c for c in cases if wanted(c, results[c.id]["signsvc"])]
    chosen.sort(key=lambda c: (not (c.headline and not c.excluded), c.id))
    print(f"\nsignsvc {what} ({len(chosen)}; H = headline):")
    for c in chosen:
        o = results[c.id]["signsvc"]
        mark = "H" if c.headline and not c.excluded else " "
        conflict = f"; conflicts with {', '.join(c.conflicts_with)}" if c.conflicts_with else ""
        print(f"  {mark} {c.id}  [expected {c.expected}{conflict}]\n      {c.summary}")
        if o.verdict != "accept" or what == "disagreements":
            print(f"      signsvc: {o.verdict}: {_short(o.detail)}")
        if what == "disagreements":
            print(f"      cryptography: {results[c.id]['cryptography'].verdict}: "
                  f"{_short(results[c.id]['cryptography'].detail)}")


def _tree_state() -> str | None:
    """The commit signsvc was run from, and whether signsvc/pki/ had local changes."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "signsvc/pki"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}{' + uncommitted changes in signsvc/pki/' if dirty else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--limbo", type=Path, default=os.environ.get("LIMBO_JSON"),
                        help="the compiled x509-limbo suite (default: $LIMBO_JSON)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds per validation before it counts as a hang")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per case and validator; the best time is kept")
    parser.add_argument("--only", action="append", default=[], metavar="GLOB",
                        help="run only cases whose id matches (repeatable), e.g. 'pathlen::*'")
    parser.add_argument("--validators", default=",".join(VALIDATORS),
                        help="comma-separated subset of " + ",".join(VALIDATORS)
                        + " (signsvc is always run)")
    parser.add_argument("--show", action="append", default=[], choices=SHOW_CHOICES,
                        help="list signsvc's cases of this kind (repeatable)")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    args = parser.parse_args()
    if args.limbo is None or not Path(args.limbo).is_file():
        where = f"{args.limbo} does not exist" if args.limbo else "no suite given"
        print(f"bench_rfc5280: {where}. Pass --limbo PATH or set LIMBO_JSON to a compiled "
              "x509-limbo suite. To build it (outside this project):\n"
              + __doc__.split("built outside the project, in its own virtual environment::",
                              1)[1].split("With a complete clone", 1)[0].rstrip()
              + "\n\nthen: .venv/bin/python benchmarks/bench_rfc5280.py "
                "--limbo /tmp/limbo/limbo.json", file=sys.stderr)
        return 2
    validators = ["signsvc", *[v for v in args.validators.split(",")
                               if v in VALIDATORS and v != "signsvc"]]
    if args.repeat < 1 or args.timeout <= 0:
        parser.error("--repeat must be >= 1 and --timeout > 0")
    limbo_path = Path(args.limbo)
    now = datetime.now(UTC).replace(microsecond=0)
    cases = load_cases(limbo_path, now, args.only)
    if not cases:
        print("bench_rfc5280: no case matches --only", file=sys.stderr)
        return 2

    signal.signal(signal.SIGALRM, _alarm)
    results: dict[str, dict[str, Outcome]] = {c.id: {} for c in cases}
    for name in validators:
        gc.collect()
        for case in cases:
            results[case.id][name] = evaluate(name, case, args.timeout, args.repeat)

    by_group = groups(cases)
    headline_failures = [c for c in cases if c.headline and c.expected == "FAILURE"]
    not_certified: dict[str, int] = {}
    for c in cases:
        if not c.headline and c.expected == "FAILURE" and c.peer_certified is False:
            not_certified[c.namespace] = not_certified.get(c.namespace, 0) + 1
    report: dict[str, Any] = {
        "meta": {
            "limbo": {"path": str(limbo_path),
                      "sha256": hashlib.sha256(limbo_path.read_bytes()).hexdigest(),
                      "testcases": len(cases)},
            "signsvc_tree": _tree_state(),
            "versions": {"signsvc": signsvc.__version__,
                         "pyhanko-certvalidator": pyhanko_certvalidator.__version__,
                         "cryptography": cryptography.__version__,
                         "python": sys.version.split()[0]},
            "now": now.isoformat(), "timeout": args.timeout, "repeat": args.repeat,
            "validators": validators,
        },
        "headline": {
            "namespaces": list(HEADLINE_NAMESPACES),
            "cases": len(by_group["HEADLINE"]),
            "excluded": [{"id": c.id, "reason": c.excluded} for c in cases if c.excluded],
            "kept_peer_not_certified": [
                {"id": c.id, "peer": f"{c.peer['kind']}:{c.peer['value']}" if c.peer else None,
                 "certified": c.peer_certified}
                for c in headline_failures if c.peer_certified is not True and not c.excluded
            ],
        },
        "summary": {g: {v: tally(cs, results, v) for v in validators}
                    for g, cs in by_group.items()},
        "timing": {p: {s: timing(by_group[s], results, p) for s in ("HEADLINE", "ALL")}
                   for p in validators if p != "signsvc"},
        "agreement_signsvc_cryptography": (
            {s: agreement(by_group[s], results, "cryptography") for s in ("HEADLINE", "ALL")}
            if "cryptography" in validators else None),
        "peer_not_certified_by_namespace": not_certified,
        "cases": [
            {"id": c.id, "namespace": c.namespace, "headline": c.headline and not c.excluded,
             "excluded": c.excluded, "expected": c.expected, "summary": c.summary,
             "conflicts_with": c.conflicts_with,
             "load_error": c.load_error,
             "results": {v: {**results[c.id][v].to_json(), "score": kind(c, results[c.id][v])}
                         for v in validators}}
            for c in cases
        ],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print_report(report, cases, results, validators, args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
