"""Make docs/verify-report.png: a real HTML verification report, rendered by Chromium.

    .venv/bin/python scripts/report_screenshot.py            # -> docs/verify-report.png
    .venv/bin/python scripts/report_screenshot.py --keep DIR  # also keep the PDFs and reports

Signs the sample decisions (samples/*.pdf) with the test PKI as an incoming dossier
would hold them: a decision signed by the leader (PAdES B-LT) and issued with the
organisation's signature (B-T); an appendix with the organisation's signature; one
signed with a revoked certificate; one whose signed bytes were changed afterwards; one
with a rectangle drawn on its page in an incremental update after signing; one
unsigned; and one that is not a PDF. Each is verified with ``signsvc.verify_pdf``
against the test roots, the report is written with ``signsvc.verify.reports.write_report``
(HTML, JSON and CSV), and headless Chromium takes the screenshot, palette-quantised
to stay small.

Needs the test PKI services (TSA, CRL, OCSP) on 127.0.0.1:18480: started here, or
reused if another process (a test session, scripts/demo.sh) already serves them.
TEST ONLY material throughout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402

from certs_test.services import PortInUseError, TestServices  # noqa: E402
from drivers import Pkcs12Key  # noqa: E402
from signsvc import TrustStore, sign_pdf  # noqa: E402
from signsvc.verify.reports import write_report  # noqa: E402
from signsvc.verify.results import DocumentResult  # noqa: E402

PKI = ROOT / "certs_test"
SAMPLES = ROOT / "samples"
TSA = "http://127.0.0.1:18480/tsa"
ROOTS = ("gov-root-g2", "vn-root")
WIDTH = 1280
MAX_BYTES = 300_000


def key(name: str) -> Pkcs12Key:
    return Pkcs12Key.load(PKI / f"{name}.p12", "1234")


def root(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((PKI / f"{name}.crt.pem").read_bytes())


def change_signed_bytes(path: Path) -> None:
    """Change the decision's number in its /Title (UTF-16BE, in the first revision):
    same length, so the file still parses, but the signed bytes differ."""
    data = path.read_bytes()
    before = b"\\0001\\0002\\0005\\000/"
    assert data.count(before) == 1, "unexpected sample: /Title not found"
    path.write_bytes(data.replace(before, b"\\0001\\0002\\0006\\000/"))


def draw_after_signing(source: Path, target: Path) -> None:
    """Add a red box to page 1 in an incremental update: the signature stays intact,
    the page shown is not the one signed."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    with source.open("rb") as handle:
        writer = IncrementalPdfFileWriter(handle)
        stream = generic.StreamObject(stream_data=b"q 0.8 0 0 rg 320 180 180 40 re f Q")
        writer.add_stream_to_page(0, writer.add_object(stream))
        with target.open("wb") as out:
            writer.write(out)


def sign_dossier(folder: Path, work: Path) -> list[Path]:
    """The incoming dossier: returns its files in the order a batch would list them."""
    folder.mkdir()
    leader, org, revoked = key("official-rsa2048"), key("org-omon"), key("revoked")
    trust = [root("gov-root-g2")]

    decision = folder / "quyet-dinh-123-ban-hanh.pdf"
    sign_pdf(SAMPLES / "quyet-dinh-123.pdf", work / "123-leader.pdf", leader,
             level="B-LT", tsa_url=TSA, trust=trust, reason="Phê duyệt", location="Cần Thơ")
    sign_pdf(work / "123-leader.pdf", decision, org, level="B-T", tsa_url=TSA,
             reason="Ban hành")

    appendix = folder / "phu-luc-123.pdf"
    sign_pdf(SAMPLES / "phu-luc-123.pdf", appendix, org, level="B-T", tsa_url=TSA)

    revoked_out = folder / "quyet-dinh-124-thu-hoi.pdf"
    sign_pdf(SAMPLES / "quyet-dinh-124-placeholder.pdf", revoked_out, revoked, level="B-T",
             tsa_url=TSA, reason="Phê duyệt")

    altered = folder / "quyet-dinh-125-sua-so.pdf"
    sign_pdf(SAMPLES / "quyet-dinh-125-hai-trang.pdf", altered, leader, level="B-T",
             tsa_url=TSA, reason="Phê duyệt")
    change_signed_bytes(altered)

    drawn = folder / "quyet-dinh-123-them-noi-dung.pdf"
    sign_pdf(SAMPLES / "quyet-dinh-123.pdf", work / "123-plain.pdf", leader, level="B-T",
             tsa_url=TSA, reason="Phê duyệt")
    draw_after_signing(work / "123-plain.pdf", drawn)

    unsigned = folder / "cong-van-chua-ky.pdf"
    shutil.copyfile(SAMPLES / "quyet-dinh-124-placeholder.pdf", unsigned)

    not_pdf = folder / "to-trinh.pdf"
    not_pdf.write_text("Tờ trình (bản Word đổi đuôi .pdf)\n", encoding="utf-8")

    return [decision, appendix, revoked_out, altered, drawn, unsigned, not_pdf]


def summarise(results: list[DocumentResult]) -> dict[str, int]:
    counts = dict.fromkeys(("TOTAL-PASSED", "TOTAL-FAILED", "INDETERMINATE", "unsigned",
                            "error"), 0)
    for result in results:
        if result.error is not None:
            counts["error"] += 1
        elif result.unsigned:
            counts["unsigned"] += 1
        else:
            counts[result.indication.value] += 1
    return counts


def screenshot(html: Path, png: Path, height: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found (scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium, "--headless", "--disable-gpu", "--hide-scrollbars",
                   "--no-first-run", f"--user-data-dir={profile}",
                   f"--window-size={WIDTH},{height}", f"--screenshot={png}", html.as_uri()]
        if os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium's sandbox refuses root
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def shrink(png: Path) -> None:
    """Crop the empty bottom and quantise to a palette (the page is flat colours)."""
    from PIL import Image, ImageChops

    with Image.open(png) as image:
        rgb = image.convert("RGB")
    background = Image.new("RGB", rgb.size, (255, 255, 255))
    box = ImageChops.difference(rgb, background).getbbox()
    if box is not None:
        rgb = rgb.crop((0, 0, rgb.width, min(rgb.height, box[3] + 16)))
    rgb.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "verify-report.png")
    parser.add_argument("--keep", type=Path, help="keep the dossier and reports here")
    parser.add_argument("--height", type=int, default=3000,
                        help="viewport height (px); the empty bottom is cropped")
    args = parser.parse_args()

    from signsvc.verify.pdf import verify_pdf

    with ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            work = args.keep.resolve()
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        try:
            stack.enter_context(TestServices(PKI))
        except PortInUseError:
            # Someone else serves the test PKI there (a test session, demo.sh): it
            # answers from the same committed material.
            with urllib.request.urlopen("http://127.0.0.1:18480/crl/gov-ca-g2.crl",
                                        timeout=5) as reply:
                if reply.read() != (PKI / "crl" / "gov-ca-g2.crl.der").read_bytes():
                    sys.exit("127.0.0.1:18480 is taken by something else")

        os.chdir(work)  # the report shows paths as an admin gave them: relative
        files = [p.relative_to(work) for p in sign_dossier(work / "ho-so-den", work)]
        trust = TrustStore.from_paths([PKI / f"{r}.crt.pem" for r in ROOTS])
        at = datetime.now(UTC)
        # online: fetch the CRLs/OCSP the certificates name (the services above), as an
        # admin would; B-T documents carry no revocation data of their own.
        results = [verify_pdf(p, trust=trust, at=at, online=True) for p in files]
        for r in results:
            print(f"{r.indication.value:14} {r.sub_indication or '':28} {r.path}")

        summary = summarise(results)
        anchors = [a.label for a in trust]
        for suffix in ("html", "json", "csv"):
            write_report(work / f"bao-cao.{suffix}", lambda: (r.to_json() for r in results),
                         summary=summary, generated_at=at, trust=anchors,
                         title="Báo cáo xác minh hồ sơ đến / Incoming dossier verification")
        screenshot(work / "bao-cao.html", args.out.resolve(), args.height)
    shrink(args.out)
    size = args.out.stat().st_size
    print(f"{args.out}: {size} bytes")
    if size > MAX_BYTES:
        sys.exit(f"screenshot is {size} bytes, over {MAX_BYTES}: lower --height")


if __name__ == "__main__":
    main()
