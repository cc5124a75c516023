"""Command start-up: ``signsvc --help`` and friends against the bare interpreter, one run.

    .venv/bin/python benchmarks/bench_startup.py [--rounds N] [--old DIR]

Every batch pays the start-up once, and a web e-office system that calls the command
per document pays it per document, so ``signsvc --help`` should start like a small
tool. Measures, each in fresh processes, interleaved so that machine noise hits all
cases alike:

1. the bare interpreter (``python -c pass``): the floor, and the peer;
2. ``signsvc --help``, ``signsvc verify --help``, ``signsvc sign --help``;
3. ``python -c "import signsvc"`` (the facade loads names only when used);
4. what a real command imports: ``signsvc chain CERT`` on a test certificate;

5. with ``--old DIR`` (a checkout of an earlier commit, e.g. ``git worktree add DIR
   85ffd61``), that checkout's ``--help`` and ``verify --help`` in the same run;

and prints the median milliseconds, each ratio to the bare interpreter (target:
``--help`` and ``verify --help`` within 5x), the peak RSS of each child, and the ten
slowest imports of ``signsvc --help`` from ``python -X importtime``. The machine is
shared and noisy: compare figures within one run only.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLI = [PYTHON, str(ROOT / "cli.py")]

CASES: dict[str, list[str]] = {
    "python -c pass (bare interpreter)": [PYTHON, "-c", "pass"],
    "signsvc --help": [*CLI, "--help"],
    "signsvc verify --help": [*CLI, "verify", "--help"],
    "signsvc sign --help": [*CLI, "sign", "--help"],
    "python -c 'import signsvc'": [PYTHON, "-c", "import signsvc"],
    "signsvc chain CERT (a real command)": [
        *CLI, "chain", str(ROOT / "certs_test/official-rsa2048.crt.pem"),
        "--trust", str(ROOT / "certs_test/gov-root-g2.crt.pem"), "--revocation", "off",
        "--at", "2030-01-01"],
}
BARE = "python -c pass (bare interpreter)"


def run_once(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one fresh process."""
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          cwd=ROOT, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
                          ) as process:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}")
    return elapsed, usage.ru_maxrss


def slowest_imports(command: list[str], count: int = 10) -> list[tuple[int, str]]:
    """(cumulative µs, module) of the top-level imports ``-X importtime`` reports."""
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        # "import time:  self [us] | cumulative | imported package"
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative, name = line.removeprefix("import time:").split("|")
        if not name.startswith("  "):  # top level only: nested ones are inside it
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20,
                        help="fresh processes per case (default 20)")
    parser.add_argument("--old", type=Path, metavar="DIR",
                        help="an earlier checkout to measure in the same run")
    args = parser.parse_args()
    if args.old is not None:
        old_cli = [PYTHON, str(args.old.resolve() / "cli.py")]
        CASES[f"{args.old.name}: signsvc --help"] = [*old_cli, "--help"]
        CASES[f"{args.old.name}: signsvc verify --help"] = [*old_cli, "verify", "--help"]

    for command in CASES.values():  # warm the page cache and the bytecode
        run_once(command)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    peaks: dict[str, int] = dict.fromkeys(CASES, 0)
    for _ in range(args.rounds):
        for name, command in CASES.items():
            seconds, peak = run_once(command)
            times[name].append(seconds)
            peaks[name] = max(peaks[name], peak)

    bare = statistics.median(times[BARE])
    print(f"start-up, median of {args.rounds} fresh processes each "
          f"(Python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    for name in CASES:
        median = statistics.median(times[name])
        print(f"  {name:<40} {median * 1e3:7.1f} ms   {median / bare:5.2f}x bare   "
              f"peak RSS {peaks[name] / 1024:5.1f} MiB")
    print("slowest top-level imports of 'signsvc --help' (python -X importtime):")
    for micros, module in slowest_imports(CASES["signsvc --help"]):
        print(f"  {micros / 1e3:7.1f} ms  {module}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process: peak RSS {own:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
