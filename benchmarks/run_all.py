"""Run every benchmark in this folder, one after the other, and print their reports.

    python benchmarks/run_all.py [--quick]

Each benchmark pins BLAS to one thread and prints ratios against a reference measured in the
same run; the figures of record are kept in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    status = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"=== {script.name}", flush=True)
        status |= subprocess.run([sys.executable, str(script), *args], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
