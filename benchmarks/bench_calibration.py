"""Speed of simulation-based calibration (SBC) of the headline model.

Run ``.venv/bin/python benchmarks/bench_calibration.py`` (about 2-4 minutes on 2
cores). For each profile (quick: 20 worksites × 40 workers, 150 + 150 iterations;
full: 30 × 60, 300 + 300) it first runs one batch of replications, which compiles
the sampler, then times ``--replications`` replications with the compiled sampler,
and prints plain ``name value`` lines:

* ``sbc_compile_seconds {profile}``: the first call (compilation and one batch);
  ``--target-accept`` sets NUTS's adaptation target (default 0.9, as the book's NUTS);
* ``sbc_seconds_per_replication {profile}`` and ``sbc_projected_seconds {profile}``
  for ``--projected`` replications (compilation excluded);
* ``sbc_leapfrog_steps {profile}`` (mean per draw), ``sbc_divergences {profile}``,
  ``sbc_thin {profile}`` and ``sbc_draws {profile}`` (L, the ranks run 0..L).

``--compare-devices`` also times the quick profile with one device (replications
one after another) against one replication per device.
"""

from __future__ import annotations

import argparse
import os

from organizing.inference.calibration import _device_count, simulation_based_calibration

PROFILES = {
    "quick": {"sites": 20, "workers_per_site": 40, "warmup": 150, "samples": 150},
    "full": {"sites": 30, "workers_per_site": 60, "warmup": 300, "samples": 300},
}


def time_profile(name: str, replications: int, projected: int, features: tuple[int, int],
                 devices: int | None = None, label: str | None = None,
                 target_accept: float = 0.9) -> float:
    """Print one profile's timings; return seconds per replication (compilation excluded)."""
    settings = PROFILES[name]
    label = label or name
    used = devices or _device_count()
    common = dict(num_site_features=features[0], num_worker_features=features[1], seed=0,
                  devices=used, target_accept=target_accept, **settings)
    first = simulation_based_calibration(used, **common)
    print(f"sbc_compile_seconds {label} {first.seconds:.1f}", flush=True)
    result = simulation_based_calibration(replications, **common)
    per = result.seconds / replications
    diagnostics = result.diagnostics
    print(f"sbc_seconds_per_replication {label} {per:.2f} ({replications} replications, "
          f"{used} devices)")
    print(f"sbc_projected_seconds {label} {per * projected:.0f} ({projected} replications)")
    print(f"sbc_leapfrog_steps {label} {diagnostics['mean_steps'].mean():.1f}")
    print(f"sbc_divergences {label} {int(diagnostics['divergences'].sum())}")
    print(f"sbc_thin {label} {result.thin}")
    print(f"sbc_draws {label} {result.draws}", flush=True)
    return per


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=8)
    parser.add_argument("--projected", type=int, default=100)
    parser.add_argument("--site-features", type=int, default=17,
                        help="Q (the campaign's 18 minus one reference level)")
    parser.add_argument("--worker-features", type=int, default=6,
                        help="P (the campaign's 7 minus one reference level)")
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--compare-devices", action="store_true")
    options = parser.parse_args(argv)
    features = (options.site_features, options.worker_features)
    print(f"cores {os.cpu_count()} devices {_device_count()} Q {features[0]} P {features[1]}")
    for name in options.profiles:
        time_profile(name, options.replications, options.projected, features,
                     target_accept=options.target_accept)
    if options.compare_devices and _device_count() > 1:
        one = time_profile("quick", options.replications, options.projected, features,
                           devices=1, label="quick_one_device")
        many = time_profile("quick", options.replications, options.projected, features)
        print(f"sbc_speedup_devices quick {one / many:.2f}")


if __name__ == "__main__":  # keep the guard: JAX may start worker threads
    main()
