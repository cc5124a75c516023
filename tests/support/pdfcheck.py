"""Independent checkers of signed PDFs: poppler's ``pdfsig`` (NSS) and pyHanko.

Tests use both on what signsvc writes, so no verdict rests on signsvc's own code.

Example::

    db = trusted_nssdb(tmp_path / "nss")
    [sig] = pdfsig(signed, nssdir=db)
    assert sig.signature_valid and sig.total_document_signed and sig.nss_chain_trusted
    [status] = pyhanko_validate(signed, roots=DEFAULT_ROOTS)
    assert status.intact and status.trusted and status.bottom_line

pdfsig quirks (poppler 22.12, Debian 12) this module works around or exposes:

- NSS trust is per usage column ``SSL,S/MIME,JAR/XPI``; pdfsig verifies with
  ``certificateUsageEmailSigner``, so roots need the S/MIME ``C`` flag. ``-t "C,,"``
  (SSL only) leaves pdfsig saying "Certificate issuer isn't Trusted.".
- Even then poppler 22.12 reports a chain NSS accepted as "Unknown issue with
  Certificate or corrupted data.": ``SignatureHandler::validateCertificate`` ignores
  ``CERT_PKIXVerifyCert``'s return value and reads ``PORT_GetError()``, which still
  holds SEC_ERROR_EXTENSION_NOT_FOUND from importing the CMS certificates (or a
  connection error from a failed OCSP fetch). Later poppler checks the return value.
  :attr:`PdfsigSignature.nss_chain_trusted` therefore re-runs the same NSS call
  (``CERT_PKIXVerifyCert``, email-signer usage) with ``vfychain`` on the certificates
  pdfsig dumps, which gives NSS's real verdict on every poppler version.
- Without ``-no-ocsp`` NSS contacts the OCSP responder named in the certificate;
  :func:`pdfsig` passes ``-no-ocsp`` unless ``ocsp=True``.
- A signature whose digest does not match has no "Certificate Validation" line at all;
  ``-nocert`` also drops it.
- "Signing Time" is printed in the process's local time without a zone: :func:`pdfsig`
  runs it with ``TZ=UTC`` and returns an aware UTC datetime.
- Exit status 2 and "does not contain any signatures" for an unsigned file; 1 with
  "Incorrect password" (stderr) for an encrypted file opened without its password.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from tests.support.paths import PKI

DEFAULT_ROOTS = (PKI / "vn-root.crt.pem", PKI / "gov-root-g2.crt.pem")
"""The two test trust anchors: public (Vietnam National Root CA) and government G2."""

CERTIFICATE_TRUSTED = "Certificate is Trusted."
SIGNATURE_VALID = "Signature is Valid."


class PdfsigError(Exception):
    """pdfsig could not read the file (not "unsigned": that is an empty list)."""

    def __init__(self, path: Path, returncode: int, stderr: str) -> None:
        super().__init__(f"pdfsig failed on {path} (exit {returncode}): {stderr.strip()}")
        self.path, self.returncode, self.stderr = path, returncode, stderr


@dataclass(frozen=True)
class PdfsigSignature:
    """One signature as poppler's pdfsig reports it."""

    index: int
    """0-based position in pdfsig's output (document order)."""
    field_name: str | None
    signer_common_name: str
    signer_dn: str
    """As pdfsig prints it, e.g. ``CN=...,L=Cần Thơ,OU=TEST ONLY,O=...,C=VN``."""
    signing_time: datetime | None
    """The signing time pdfsig shows (claimed by the signer, not a time-stamp), aware
    UTC, whole seconds."""
    hash_algorithm: str
    """e.g. ``SHA-256``."""
    signature_type: str
    """The /SubFilter: ``ETSI.CAdES.detached`` (PAdES) or ``adbe.pkcs7.detached``."""
    signed_ranges: tuple[tuple[int, int], ...]
    """Half-open byte ranges [start, end) from the /ByteRange."""
    total_document_signed: bool
    """True when the ranges reach the end of the file ("Total document signed")."""
    signature_validation: str
    """e.g. "Signature is Valid.", "Digest Mismatch."."""
    certificate_validation: str | None
    """pdfsig's text, None when absent (invalid digest, ``-nocert``). See the module
    docstring for why poppler 22.12 prints "Unknown issue with Certificate or corrupted
    data." where it means "Certificate is Trusted."."""
    nss_chain_trusted: bool | None
    """NSS's own verdict on the signer's chain (``vfychain``, email-signer usage), None
    when not checked (no NSS database given)."""

    @property
    def signature_valid(self) -> bool:
        return self.signature_validation == SIGNATURE_VALID

    @property
    def bottom_line(self) -> bool:
        """Valid digest and signature, chain trusted by NSS, whole file covered."""
        trusted = (self.nss_chain_trusted if self.nss_chain_trusted is not None
                   else self.certificate_validation == CERTIFICATE_TRUSTED)
        return self.signature_valid and trusted and self.total_document_signed


def trusted_nssdb(directory: Path, roots: Sequence[Path] = DEFAULT_ROOTS) -> Path:
    """Create an NSS database in ``directory`` trusting ``roots`` (PEM) as CAs for
    signing (S/MIME column, ``-t ",C,"``), and return ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    db = f"sql:{directory}"
    _run(["certutil", "-N", "-d", db, "--empty-password"])
    for i, root in enumerate(roots):
        _run(["certutil", "-A", "-d", db, "-n", f"root-{i}-{root.stem}", "-t", ",C,",
              "-a", "-i", str(root)])
    return directory


def pdfsig(
    path: Path,
    *,
    nssdir: Path | None = None,
    password: str | None = None,
    ocsp: bool = False,
) -> list[PdfsigSignature]:
    """Run ``pdfsig`` on ``path`` and parse every signature it reports.

    Args:
        nssdir: NSS database with the trust anchors (:func:`trusted_nssdb`); without
            it pdfsig uses its default database and ``nss_chain_trusted`` is None.
        password: user password of an encrypted file.
        ocsp: let NSS fetch OCSP responses named in the certificates.

    Returns:
        One entry per signature, empty for an unsigned file.

    Raises:
        PdfsigError: pdfsig could not open or parse the file.
    """
    args = ["pdfsig"]
    if nssdir is not None:
        args += ["-nssdir", f"sql:{nssdir}"]
    if password is not None:
        args += ["-upw", password]
    if not ocsp:
        args.append("-no-ocsp")
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run([*args, str(path)], capture_output=True, text=True, env=env,
                          check=False)
    if proc.returncode == 2 and "does not contain any signatures" in proc.stdout:
        return []
    if proc.returncode != 0:
        raise PdfsigError(path, proc.returncode, proc.stderr or proc.stdout)
    blocks = re.split(r"(?m)^Signature #\d+:\n", proc.stdout)[1:]
    chains: list[bool | None] = [None] * len(blocks)
    if nssdir is not None:
        with tempfile.TemporaryDirectory() as dump_dir:
            # -dump replaces the report: it writes <file name>.sig<N> (the CMS blobs)
            # into the working directory.
            subprocess.run([*args, "-dump", str(path.resolve())], cwd=dump_dir,
                           capture_output=True, env=env, check=True)
            chains = [_nss_chain_trusted(Path(dump_dir) / f"{path.name}.sig{i}", nssdir)
                      for i in range(len(blocks))]
    signatures = [_parse_block(i, block, chains[i]) for i, block in enumerate(blocks)]
    return signatures


def _parse_block(index: int, block: str, chain: bool | None) -> PdfsigSignature:
    fields: dict[str, str] = {}
    flags = set()
    for line in block.splitlines():
        line = line.strip()
        if not line.startswith("- "):
            continue
        key, sep, value = line[2:].partition(": ")
        if sep:
            fields[key] = value
        else:
            flags.add(line[2:])
    ranges = tuple((int(a), int(b)) for a, b in
                   re.findall(r"\[(\d+) - (\d+)\]", fields.get("Signed Ranges", "")))
    when = fields.get("Signing Time")
    return PdfsigSignature(
        index=index,
        field_name=fields.get("Signature Field Name"),
        signer_common_name=fields.get("Signer Certificate Common Name", ""),
        signer_dn=fields.get("Signer full Distinguished Name", ""),
        signing_time=(datetime.strptime(when, "%b %d %Y %H:%M:%S").replace(tzinfo=UTC)
                      if when else None),
        hash_algorithm=fields.get("Signing Hash Algorithm", ""),
        signature_type=fields.get("Signature Type", ""),
        signed_ranges=ranges,
        total_document_signed="Total document signed" in flags,
        signature_validation=fields.get("Signature Validation", ""),
        certificate_validation=fields.get("Certificate Validation"),
        nss_chain_trusted=chain,
    )


def _nss_chain_trusted(cms_file: Path, nssdir: Path) -> bool | None:
    """NSS's CERT_PKIXVerifyCert verdict (``vfychain -pp -pp -u 4``: email signer, as
    pdfsig asks) on the signer certificate of a dumped CMS, with the CMS's other
    certificates as candidate intermediates."""
    if not cms_file.exists():
        return None
    signed_data = cms.ContentInfo.load(cms_file.read_bytes())["content"]
    certs = [c.chosen for c in signed_data["certificates"]
             if isinstance(c.chosen, asn1_x509.Certificate)]
    sid = signed_data["signer_infos"][0]["sid"]
    if sid.name == "issuer_and_serial_number":
        wanted = sid.chosen
        leaf = next(c for c in certs if c.issuer == wanted["issuer"]
                    and c.serial_number == wanted["serial_number"].native)
    else:
        leaf = next(c for c in certs if c.key_identifier == sid.chosen.native)
    others = [c for c in certs if c is not leaf]
    args = ["vfychain", "-d", f"sql:{nssdir}", "-pp", "-pp", "-u", "4"]
    with tempfile.TemporaryDirectory() as tmp:
        for i, cert in enumerate([leaf, *others]):
            pem = x509.load_der_x509_certificate(cert.dump()).public_bytes(Encoding.PEM)
            (Path(tmp) / f"{i}.pem").write_bytes(pem)
            args += ["-a", str(Path(tmp) / f"{i}.pem")]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
    return proc.returncode == 0 and "Chain is good!" in proc.stdout + proc.stderr


@dataclass(frozen=True)
class PyhankoSignature:
    """One signature as pyHanko's validator judges it."""

    field_name: str
    signer_common_name: str
    intact: bool
    """The digest over the signed byte ranges matches."""
    valid: bool
    """The cryptographic signature over the signed attributes verifies."""
    trusted: bool
    """The signer's chain reaches one of the given roots (revocation per ``level``)."""
    revoked: bool
    bottom_line: bool
    """pyHanko's overall judgment (intact, valid, trusted, modifications, seed values,
    timestamp)."""
    coverage: str | None
    """SignatureCoverageLevel name: ENTIRE_FILE, ENTIRE_REVISION, ... ."""
    modification_level: str | None
    """ModificationLevel name of later revisions: NONE, LTA_UPDATES, FORM_FILLING,
    ANNOTATIONS, OTHER."""
    docmdp_ok: bool | None
    md_algorithm: str
    signing_time: datetime | None
    """The signer-claimed signing time (CMS signingTime)."""
    timestamp: datetime | None
    """Time of the signature time-stamp token, if any (PAdES B-T and up)."""
    dss: bool
    """The document has a /DSS (validation data added after signing, PAdES B-LT)."""
    ades_indication: str | None
    """With ``level``: ETSI EN 319 102-1 result of pyHanko's AdES LTA validation
    process, e.g. "PASSED:OK", "INDETERMINATE:NO_POE"; None without ``level``.
    pyHanko 0.38 reports no PAdES baseline level (B-B/B-T/B-LT/B-LTA) of its own."""
    archive_timestamp: datetime | None
    """With ``level``: the oldest document time-stamp that validated (PAdES B-LTA)."""
    summary: str


def _trust_roots(roots: Sequence[Path | x509.Certificate]) -> list[asn1_x509.Certificate]:
    out = []
    for root in roots:
        if isinstance(root, Path):
            data = root.read_bytes()
            cert = (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data
                    else x509.load_der_x509_certificate(data))
        else:
            cert = root
        out.append(asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER)))
    return out


def pyhanko_validate(
    path: Path,
    *,
    roots: Sequence[Path | x509.Certificate] = DEFAULT_ROOTS,
    level: Literal["LT", "LTA"] | None = None,
    allow_fetching: bool = False,
    password: str | None = None,
    moment: datetime | None = None,
) -> list[PyhankoSignature]:
    """Validate every signature in ``path`` with pyHanko.

    Args:
        roots: trust anchors (PEM/DER files or certificates).
        level: None for pyHanko's standard validation (revocation soft-fail: checked
            only when available). "LT" or "LTA": pyHanko's ETSI EN 319 102-1 process for
            long-term signatures (``ades_lta_validation``), where revocation data is
            required and, unless ``allow_fetching``, must come from the document (DSS
            or the CMS). pyHanko 0.38 dropped the older ``validate_pdf_ltv_signature``
            (``RevocationInfoValidationType.PADES_LT``), so both levels use that process;
            for "LTA" read :attr:`PyhankoSignature.archive_timestamp` too.
        allow_fetching: let pyHanko fetch certificates, CRLs and OCSP responses online.
        password: user password of an encrypted file.
        moment: validation time (default now).

    Raises:
        pyhanko.pdf_utils.misc.PdfReadError: pyHanko cannot parse the file.
    """
    trust = _trust_roots(roots)

    async def run() -> list[PyhankoSignature]:
        with path.open("rb") as f:
            reader = PdfFileReader(f)
            if password is not None:
                reader.decrypt(password)
            dss = "/DSS" in reader.root
            results = []
            for sig in reader.embedded_signatures:
                if sig.sig_object_type == "/DocTimeStamp":
                    # A PAdES document time-stamp is evidence for the signatures
                    # before it (see archive_timestamp), not a signature to report.
                    continue
                ades = archive = None
                if level is None:
                    context = ValidationContext(trust_roots=trust,
                                                allow_fetching=allow_fetching,
                                                moment=moment)
                    status = await async_validate_pdf_signature(sig, context)
                else:
                    result = await ades_lta_validation(sig, _ades_spec(trust, allow_fetching))
                    status = result.api_status
                    sub = result.ades_subindic
                    ades = f"{sub.status.name}:{sub.name}"
                    archive = result.oldest_evidence_record_timestamp
                ts = status.timestamp_validity
                mod = getattr(status, "modification_level", None)
                results.append(PyhankoSignature(
                    field_name=sig.field_name,
                    signer_common_name=status.signing_cert.subject.native.get("common_name", ""),
                    intact=status.intact,
                    valid=status.valid,
                    trusted=status.trusted,
                    revoked=status.revoked,
                    bottom_line=status.bottom_line,
                    coverage=status.coverage.name if status.coverage is not None else None,
                    modification_level=mod.name if mod is not None else None,
                    docmdp_ok=status.docmdp_ok,
                    md_algorithm=status.md_algorithm,
                    signing_time=status.signer_reported_dt,
                    timestamp=ts.timestamp if ts is not None else None,
                    dss=dss,
                    ades_indication=ades,
                    archive_timestamp=archive,
                    summary=status.summary(),
                ))
            return results

    # A test helper, called from synchronous tests only: one event loop for all
    # signatures of the file.
    return asyncio.run(run())


def _ades_spec(trust: list[asn1_x509.Certificate],
               allow_fetching: bool) -> PdfSignatureValidationSpec:
    # PAdES B-LT: revocation data for every certificate of the chain is required
    # (ETSI EN 319 142-1, level B-LT), so REQUIRE_REVINFO rather than soft-fail.
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=trust),
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )
    gathering = RevocationInfoGatheringSpec(
        online_fetching_rule=(RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH if allow_fetching
                              else RevinfoOnlineFetchingRule.LOCAL_ONLY),
        certificate_fetching_rule=(CertificateFetchingRule.FOLLOW_ONLINE_RULE
                                   if allow_fetching else CertificateFetchingRule.NEVER_FETCH),
    )
    return PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=policy, revinfo_gathering_policy=gathering))


def tools_missing() -> list[str]:
    """The command-line tools this module needs that are not on PATH."""
    return [t for t in ("pdfsig", "certutil", "vfychain") if shutil.which(t) is None]


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True)
