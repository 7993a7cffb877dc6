"""Run every benchmark in one process and print plain `name value` lines.

    .venv/bin/python benchmarks/run.py     (or: make bench)

Speed goals live here, not in timed tests: the machine is shared and noisy,
so each benchmark compares its variants within the same run and reports
medians and ratios.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    for name in ("bench_model", "bench_nuts", "bench_calibration", "bench_clustering",
                 "bench_planning", "bench_report"):
        print(f"# {name}", flush=True)
        _load(name).main([])


if __name__ == "__main__":  # NUTS starts worker processes: keep this guard
    main()
