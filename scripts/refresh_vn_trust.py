"""Rebuild the Vietnamese trust material shipped in ``signsvc/pki/data/`` from certificate files.

    .venv/bin/python scripts/refresh_vn_trust.py ../shared/corpora/vn-ca
    .venv/bin/python scripts/refresh_vn_trust.py ../shared/corpora/vn-ca --check  # exit 1: stale

Reads every ``.crt``, ``.cer``, ``.der``, ``.pem``, ``.p7b``/``.p7c`` and password-less
``.p12``/``.pfx`` file under the folders given (``MANIFEST.tsv`` at a folder's top, when
present, names each file's public source as ``repository@commit:path``; a certificate
no manifest names keeps the source the committed ``vn-sources.tsv`` records, else its
file path), removes duplicates by the SHA-256 of the DER, and keeps:

- **roots**: self-signed certificates whose self-signature verifies and whose subject is
  NEAC's (Trung tâm Chứng thực điện tử quốc gia: the Ministry of Information and
  Communications' / of Science and Technology's national centre) or Ban Cơ yếu Chính phủ's;
- **intermediates**: certificates whose signature verifies with the key of a kept root or
  kept intermediate of the issuer's name, found level by level, and that are CAs
  (basicConstraints cA, RFC 5280 §4.2.1.9) or time-stamping authorities (extendedKeyUsage
  id-kp-timeStamping, RFC 3161 §2.3).

Anything else is dropped, and the reason printed: another organisation's root, a
signature that does not verify, an issuer not in the bundle, an end-entity certificate.
SHA-1 signatures are checked as well (the G1 hierarchy is SHA-1): the public key's own
``verify`` is called with the algorithm the certificate names, because cryptography's
``verify_directly_issued_by`` refuses SHA-1.

Writes, deterministically (sorted, no timestamps): ``vn-roots.pem``,
``vn-intermediates.pem`` (each certificate after comment lines naming it) and
``vn-sources.tsv`` (SHA-256, role, label, subject, issuer, validity, signature hash and
public source of every certificate). Review the diff before committing it:
``tests/pki/test_vn_trust.py`` pins the root fingerprints, so a new root fails the tests
until someone has checked it against its publisher (rootca.gov.vn, ca.gov.vn).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from signsvc.pki._x509 import verify_signature  # noqa: E402
from signsvc.pki.trust import VN_PROFILE  # noqa: E402

DATA = ROOT / "signsvc" / "pki" / "data"
SUFFIXES = frozenset({".crt", ".cer", ".der", ".pem", ".p7b", ".p7c", ".p12", ".pfx"})
ROLE_ORDER = ("root", "issuing CA", "time-stamping CA", "time-stamping authority")
COLUMNS = ("sha256", "role", "label", "subject", "issuer", "not_before", "not_after",
           "signature_hash", "source")

# Whose self-signed certificates are roots: NEAC under its successive names and
# ministries (MIC until 2025, then the Ministry of Science and Technology; "National CA
# Center" on the 2008 root), and Ban Cơ yếu Chính phủ (written with and without
# diacritics). (organisation, organisational unit or None), compared case-folded.
ROOT_OWNERS = frozenset({
    ("ministry of information and communications",
     "national centre of digital signature authentication"),
    ("ministry of information and communications", "national electronic authentication centre"),
    ("ministry of information and communications", "national ca center"),
    ("ministry of science and technology", "national electronic authentication centre"),
    ("ban cơ yếu chính phủ", None),
    ("ban co yeu chinh phu", None),
})
NEAC_ORGANISATIONS = frozenset({"ministry of information and communications",
                                "ministry of science and technology"})


@dataclass
class Found:
    """One distinct certificate and every file it was read from."""

    cert: x509.Certificate
    fingerprint: str
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Kept:
    cert: x509.Certificate
    fingerprint: str
    role: str
    source: str


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def read_file(path: Path) -> list[x509.Certificate]:
    """The certificates in one file (empty for a PKCS#12 file that needs a password)."""
    data = path.read_bytes()
    suffix = path.suffix.lower()
    with warnings.catch_warnings():
        # Some published .p7b files are BER (indefinite lengths); cryptography reads
        # them with a warning.
        warnings.simplefilter("ignore", UserWarning)
        if suffix in (".p7b", ".p7c"):
            if b"-----BEGIN" in data:
                return pkcs7.load_pem_pkcs7_certificates(data)
            return pkcs7.load_der_pkcs7_certificates(data)
    if suffix in (".p12", ".pfx"):
        try:
            _, cert, extra = pkcs12.load_key_and_certificates(data, None)
        except ValueError:
            return []
        return [*([cert] if cert is not None else []), *extra]
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def read_manifest(folder: Path) -> dict[Path, str]:
    manifest = folder / "MANIFEST.tsv"
    if not manifest.is_file():
        return {}
    sources = {}
    for line in manifest.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) >= 3:
            sources[(folder / parts[0]).resolve()] = parts[2]
    return sources


def collect(folders: Iterable[Path]) -> tuple[dict[str, Found], dict[Path, str], list[str]]:
    found: dict[str, Found] = {}
    sources: dict[Path, str] = {}
    problems = []
    for folder in folders:
        sources.update(read_manifest(folder))
        for path in sorted(p for p in folder.rglob("*")
                           if p.is_file() and p.suffix.lower() in SUFFIXES):
            try:
                certs = read_file(path)
            except ValueError as exc:
                problems.append(f"{path}: not readable as certificates ({exc})")
                continue
            if not certs:
                problems.append(f"{path}: no certificate (a PKCS#12 file with a password?)")
            for cert in certs:
                fp = cert.fingerprint(hashes.SHA256()).hex().upper()
                found.setdefault(fp, Found(cert, fp)).files.append(path.resolve())
    return found, sources, problems


def _signed_by(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    if child.issuer != issuer.subject:
        return False
    try:
        hash_alg = child.signature_hash_algorithm
        params = child.signature_algorithm_parameters
    except Exception:  # an algorithm cryptography does not know: not verifiable
        return False
    return verify_signature(issuer.public_key(), child.signature, child.tbs_certificate_bytes,
                            hash_alg, params)


def _basic_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _time_stamping(cert: x509.Certificate) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.TIME_STAMPING in eku


def role_of(cert: x509.Certificate) -> str | None:
    """The role of a non-root certificate, or None for an end entity that is not a TSA."""
    if _basic_ca(cert):
        return "time-stamping CA" if _time_stamping(cert) else "issuing CA"
    return "time-stamping authority" if _time_stamping(cert) else None


def _root_owner(cert: x509.Certificate) -> bool:
    org = (_attr(cert.subject, NameOID.ORGANIZATION_NAME) or "").casefold()
    unit = _attr(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    return (org, unit.casefold() if unit else None) in ROOT_OWNERS


_PROFILE_LABELS = {k.fingerprint: k.label for k in VN_PROFILE}


def label_of(cert: x509.Certificate) -> str:
    """The :data:`~signsvc.pki.trust.VN_PROFILE` label, else the subject CN as written
    with its organisation ("NEAC" for NEAC's own)."""
    fp = cert.fingerprint(hashes.SHA256()).hex().upper()
    if fp in _PROFILE_LABELS:
        return _PROFILE_LABELS[fp]
    cn = _attr(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string()
    org = _attr(cert.subject, NameOID.ORGANIZATION_NAME)
    if org is None:
        return cn
    return f"{cn} ({'NEAC' if org.casefold() in NEAC_ORGANISATIONS else org})"


def shipped_sources() -> dict[str, str]:
    """The sources recorded in the committed ``vn-sources.tsv``, by SHA-256: kept for a
    certificate read from a file no ``MANIFEST.tsv`` names (the shipped PEMs themselves)."""
    tsv = DATA / "vn-sources.tsv"
    if not tsv.is_file():
        return {}
    rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines()[1:]]
    return {r[0]: r[-1] for r in rows if len(r) == len(COLUMNS)}


def _source(entry: Found, sources: dict[Path, str], known: dict[str, str]) -> str:
    # A single-certificate file names the certificate more directly than a bundle.
    files = sorted(entry.files, key=lambda p: (p.suffix.lower() in (".p7b", ".p7c"), str(p)))
    for path in files:
        if path in sources:
            return sources[path]
    return known.get(entry.fingerprint, str(files[0]))


def select(found: dict[str, Found], sources: dict[Path, str]
           ) -> tuple[list[Kept], list[tuple[Found, str]]]:
    """The roots and intermediates to ship, and each dropped certificate with why."""
    known = shipped_sources()
    kept: dict[str, Kept] = {}
    dropped: list[tuple[Found, str]] = []
    pending = []
    for fp, entry in sorted(found.items()):
        cert = entry.cert
        if cert.subject != cert.issuer:
            pending.append(entry)
        elif not _signed_by(cert, cert):
            dropped.append((entry, "self-signed, but its signature does not verify"))
        elif not _root_owner(cert):
            dropped.append((entry, "a root of another organisation (not NEAC, not Ban Cơ yếu "
                                   "Chính phủ)"))
        else:
            kept[fp] = Kept(cert, fp, "root", _source(entry, sources, known))
    progress = True
    while progress:  # level by level: an intermediate may be issued by an intermediate
        progress = False
        for entry in list(pending):
            role = role_of(entry.cert)
            issuers = [k for k in kept.values() if k.role != "time-stamping authority"
                       and _signed_by(entry.cert, k.cert)]
            if issuers and role is not None:
                kept[entry.fingerprint] = Kept(entry.cert, entry.fingerprint, role,
                                               _source(entry, sources, known))
                pending.remove(entry)
                progress = True
            elif issuers:
                dropped.append((entry, "an end-entity certificate (neither a CA nor a "
                                       "time-stamping authority)"))
                pending.remove(entry)
    for entry in pending:
        named = [k for k in kept.values() if k.cert.subject == entry.cert.issuer]
        why = ("its signature does not verify with the key of any shipped "
               f"{_attr(entry.cert.issuer, NameOID.COMMON_NAME)!r}" if named
               else "its issuer is not in the bundle")
        dropped.append((entry, why))
    ordered = sorted(kept.values(), key=lambda k: (
        ROLE_ORDER.index(k.role), label_of(k.cert).casefold(), k.cert.not_valid_before_utc,
        k.fingerprint))
    return ordered, sorted(dropped, key=lambda d: d[0].fingerprint)


def _hash_name(cert: x509.Certificate) -> str:
    try:
        alg = cert.signature_hash_algorithm
    except Exception:
        return cert.signature_algorithm_oid.dotted_string
    return alg.name if alg is not None else "none"


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def row(k: Kept) -> tuple[str, ...]:
    cert = k.cert
    return (k.fingerprint, k.role, _clean(label_of(cert)), _clean(cert.subject.rfc4514_string()),
            _clean(cert.issuer.rfc4514_string()), cert.not_valid_before_utc.isoformat(),
            cert.not_valid_after_utc.isoformat(), _hash_name(cert), _clean(k.source))


HEADER = ("# Generated by scripts/refresh_vn_trust.py from public copies of the certificates\n"
          "# (sources in vn-sources.tsv); do not edit by hand.\n")


def pem_bundle(kept: Iterable[Kept], title: str) -> str:
    out = [HEADER, f"# {title}\n"]
    for k in kept:
        cert = k.cert
        out.append(
            f"\n# {label_of(cert)}\n# role: {k.role}; SHA-256: {k.fingerprint}\n"
            f"# valid {cert.not_valid_before_utc.date()} to {cert.not_valid_after_utc.date()}; "
            f"signed with {_hash_name(cert)}\n# source: {k.source}\n"
            + cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))
    return "".join(out)


def render(kept: list[Kept]) -> dict[str, str]:
    roots = [k for k in kept if k.role == "root"]
    others = [k for k in kept if k.role != "root"]
    tsv = ["\t".join(COLUMNS)] + ["\t".join(row(k)) for k in kept]
    return {
        "vn-roots.pem": pem_bundle(roots, "Roots: the opt-in 'vn' trust profile "
                                          "(TrustStore.vn(), --trust-profile vn)."),
        "vn-intermediates.pem": pem_bundle(
            others, "Issuing CAs and time-stamping certificates: used to build paths, "
                    "never as trust anchors."),
        "vn-sources.tsv": "\n".join(tsv) + "\n",
    }


def _report(kept: list[Kept], dropped: list[tuple[Found, str]], problems: list[str]
            ) -> Iterator[str]:
    for role in ROLE_ORDER:
        members = [k for k in kept if k.role == role]
        plural = role.replace("authority", "authorities") if role.endswith("y") else role + "s"
        yield f"kept {len(members)} {role if len(members) == 1 else plural}:"
        for k in members:
            yield (f"  {k.fingerprint[:16]}  {label_of(k.cert)}  "
                   f"({k.cert.not_valid_before_utc.date()} to {k.cert.not_valid_after_utc.date()},"
                   f" {_hash_name(k.cert)})")
    yield f"dropped {len(dropped)}:"
    for entry, why in dropped:
        yield f"  {entry.fingerprint[:16]}  {label_of(entry.cert)}: {why}"
    for problem in problems:
        yield f"skipped {problem}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of certificate files")
    parser.add_argument("--out", type=Path, default=DATA, help=f"default {DATA}")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the files would change")
    args = parser.parse_args(argv)
    for folder in args.folders:
        if not folder.is_dir():
            parser.error(f"{folder}: not a folder")
    found, sources, problems = collect(args.folders)
    kept, dropped = select(found, sources)
    for line in _report(kept, dropped, problems):
        print(line)
    files = render(kept)
    stale = [name for name, text in files.items()
             if not (args.out / name).is_file()
             or (args.out / name).read_text(encoding="utf-8") != text]
    if args.check:
        print("up to date" if not stale else f"stale: {', '.join(stale)}")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {', '.join(files)} in {args.out} ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
