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
#: Chain methods compared on the headline model (parallel devices, a loop, vmap).
METHODS = ["parallel", "sequential", "vectorized"]
#: Warm-up adaptations compared: the default, and the early start whose first window is
#: estimated from draws and gradients (organizing.inference.nuts, "The warm-up").
ADAPTATIONS = ["welford", "gradient-first"]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    # The pipeline's quick and full profiles run last, the full one at the very end.
    runs = (("bench_model", []),
            ("bench_nuts", ["--methods", *METHODS, "--adaptations", *ADAPTATIONS]),
            ("bench_peers", []), ("bench_calibration", []), ("bench_clustering", []),
            ("bench_planning", []), ("bench_report", ["--profile", "quick"]),
            ("bench_report", ["--profile", "full"]))
    for name, argv in runs:
        print(f"# {name} {' '.join(argv)}".rstrip(), flush=True)
        _load(name).main(argv)


if __name__ == "__main__":  # NUTS starts worker processes: keep this guard
    main()
