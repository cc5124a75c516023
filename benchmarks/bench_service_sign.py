"""Does the signing service sign at the token's rate? One run, three ways, same token.

    .venv/bin/python benchmarks/bench_service_sign.py [--docs 20] [--rounds 5]

On a SoftHSM token (certs_test/, RSA-2048) and ``--docs`` copies of
samples/quyet-dinh-123.pdf with the Decree 30 personal appearance, each round times:

1. the token alone: ``--docs`` raw RSA signatures on one logged-in session
   (python-pkcs11), the floor any signer pays;
2. ``signsvc.sign_batch`` on the same documents, in this process, one login: the
   library without the service;
3. ``signsvc serve``: one ``POST /SignApproved`` with the ``--docs`` URLs, served by a
   loopback e-office server (the fetch, one ``script:`` consent, one login, the
   signatures, the uploads, the audit), as a browser page would ask.

Prints the median per document of each and the service's overhead over the batch.
SoftHSM signs in about half a millisecond, so this shows the service's own cost; a
real token's 0.2-2 s per signature would hide it. The machine is shared and noisy:
compare within one run only. It prints; it does not assert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import httpx

    from certs_test.softhsm import USER_PIN
    from tests.service.conftest import confirm_script, service_toml
    from tests.service.fileserver import FileServer
    from tests.support.tokens import ANH, build

    with tempfile.TemporaryDirectory(prefix="bench-service-sign-") as scratch:
        work = Path(scratch)
        hsm = build(work / "softhsm")
        import os

        os.environ.update(hsm.env)  # SOFTHSM2_CONF, for this process's own token use
        sample = (ROOT / "samples" / "quyet-dinh-123.pdf").read_bytes()
        with FileServer() as files:
            urls = [files.add(f"/vb/qd-{n:03d}.pdf", sample) for n in range(args.docs)]
            upload = files.origin + "/upload"
            config = service_toml(hsm, files.origin)
            (work / "service").mkdir()
            service = _start(work, hsm, config, confirm_script(work)[0], USER_PIN)
            try:
                rows: dict[str, list[float]] = {"token": [], "sign_batch": [], "service": []}
                for _ in range(args.rounds):
                    rows["token"].append(_token(hsm, args.docs))
                    rows["sign_batch"].append(_sign_batch(work, hsm, config, sample,
                                                          args.docs))
                    rows["service"].append(_service(httpx, service[1], files.origin, urls,
                                                    upload, args.docs))
            finally:
                service[0].terminate()
                service[0].wait(10)
    token, batch, served = (statistics.median(rows[k]) / args.docs * 1e3
                            for k in ("token", "sign_batch", "service"))
    print(f"{args.docs} documents per batch, median of {args.rounds} rounds, SoftHSM "
          f"RSA-2048 ({ANH})")
    print(f"  {'case':<48}{'ms/doc':>8}")
    print(f"  {'token alone (raw signature, one session)':<48}{token:8.2f}")
    print(f"  {'sign_batch in this process (one login)':<48}{batch:8.2f}")
    print(f"  {'signsvc serve, one POST (fetch, consent, upload)':<48}{served:8.2f}")
    print(f"  the service adds {served - batch:.2f} ms per document to sign_batch "
          f"({served / batch:.2f}x); with a token that takes 200 ms per signature "
          f"that is {(served - batch) / (200 + batch) * 100:.1f} % of the batch")
    return 0


def _start(work: Path, hsm: Any, config: str, confirm: str, pin: str
           ) -> tuple[subprocess.Popen[bytes], int]:
    from bench_service import free_port, start_service, wait_listening

    port = free_port()
    process = start_service(work / "service", port, config=config, confirm=confirm,
                            env={**hsm.env, "BENCH_PIN": pin},
                            args=("--pin-env", "BENCH_PIN"))
    wait_listening(process, port, "signsvc serve")
    return process, port


def _token(hsm: object, docs: int) -> float:
    import pkcs11
    from pkcs11 import Mechanism, ObjectClass

    from certs_test.softhsm import USER_PIN
    from tests.support.tokens import ANH

    lib = pkcs11.lib(str(hsm.module))  # type: ignore[attr-defined]
    token = lib.get_token(token_label=ANH)
    with token.open(user_pin=USER_PIN) as session:
        # The key the service signs with: CKA_ID 01, as service_toml names it.
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex("01"))
        start = time.perf_counter()
        for number in range(docs):
            key.sign(number.to_bytes(32, "big"), mechanism=Mechanism.SHA256_RSA_PKCS)
        return time.perf_counter() - start


def _sign_batch(work: Path, hsm: object, config: str, sample: bytes, docs: int) -> float:
    import shutil
    import tomllib

    from certs_test.softhsm import USER_PIN
    from signsvc.service.config import load_config
    from signsvc.service.vgca import appearance_for
    from signsvc.sign.batch import sign_batch
    from signsvc.tokens import open_token_key

    folder = work / "direct"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "in").mkdir(parents=True)
    inputs = []
    for number in range(docs):
        path = folder / "in" / f"qd-{number:03d}.pdf"
        path.write_bytes(sample)
        inputs.append(path)
    (folder / "service.toml").write_text(config, encoding="utf-8")
    loaded = load_config(user_file=folder / "service.toml")
    table = tomllib.loads(config)["token"]
    start = time.perf_counter()
    with open_token_key([table["module"]], label=table["label"],
                        cert_id=bytes.fromhex(table["cert_id"]),
                        pin=lambda info: USER_PIN) as key:
        results = sign_batch(inputs, folder / "out", key,
                             appearance=appearance_for("approved",
                                                       loaded.appearances["approved"],
                                                       doc_number=None, issued=None))
    elapsed = time.perf_counter() - start
    assert all(r.output is not None for r in results), [r.error for r in results]
    return elapsed


def _service(httpx: object, port: int, origin: str, urls: list[str], upload: str,
             docs: int) -> float:
    body = json.dumps({"FileName": urls, "FileUploadHandler": upload,
                       "SessionId": "bench", "JWTToken": "bench"})
    start = time.perf_counter()
    reply = httpx.post(  # type: ignore[attr-defined]
        f"http://127.0.0.1:{port}/SignApproved", content=body, timeout=300,
        headers={"Origin": origin, "Content-Type": "application/json",
                 "X-Signsvc-Request": "1"}).json()
    elapsed = time.perf_counter() - start
    if reply.get("Status") != 0 or len(reply.get("Files", [])) != docs:
        raise SystemExit(f"the service did not sign: {reply}")
    return elapsed


if __name__ == "__main__":
    sys.exit(main())
