r"""The headline model fitted by the project's NumPyro path and by its peers, in one run.

    python benchmarks/bench_peers.py [--peers numpyro pymc nutpie stan] [--design ...]

The same posterior, four samplers, one after another on the same machine:

* **numpyro**: the project's own path, :func:`organizing.inference.nuts.run_nuts`
  (chains in parallel, float32, the package's mass-matrix settings), with JAX's
  compilation cache as the pipeline uses it;
* **pymc**: PyMC's own NUTS (``pm.sample``), chains in ``--cores`` processes;
* **nutpie**: the same PyMC model compiled by nutpie (its gradient-based mass-matrix
  adaptation; ``--nutpie-low-rank`` adds a run with its low-rank-corrected one);
* **stan**: Stan through rstan (Debian's ``r-cran-rstan``, which also needs
  ``r-cran-bh`` to compile a model, and ``Rscript``), skipped with a one-line note
  where they are absent.

**The model** (the package's ``headline`` model, :mod:`organizing.models.numpyro_models`),
written out below for PyMC (:func:`pymc_model`) and Stan (:data:`STAN_MODEL`) so that a
reader can check it line by line. For row r (workers with identical features at one
worksite, merged as the package merges them: ``trials[r]`` workers, ``signed[r]`` of
whom signed), worksite s = ``site[r]``, standardized worksite features x_s (Q) and
worker features z_r (P):

.. math::

    α &\sim \mathcal{N}(\operatorname{logit} 0.2, 1.5), \quad τ_β \sim \mathcal{N}^+(0, 0.5),
    \quad β_q \sim \mathcal{N}(0, τ_β), \quad σ_u \sim \mathcal{N}^+(0, 1),
    \quad ε_s \sim \mathcal{N}(0, 1) \\
    μ_{b,p} &\sim \mathcal{N}(0, 1.5), \quad τ_{b,p} \sim \mathcal{N}^+(0, 1),
    \quad ε^b_{sp} \sim \mathcal{N}(0, 1), \quad b_s = μ_b + τ_b ⊙ ε^b_s \\
    \text{signed}_r &\sim \mathrm{Binomial}\bigl(\text{trials}_r,
        \operatorname{logit}^{-1}(α + x_s·β + σ_u ε_s + z_r·b_s)\bigr)

(the constants come from ``HEADLINE_PRIORS``, so they exist once). Data: the study's
training split (80% of workers, ``random_state=42``), the headline design
(``features.headline_design``); ``--design without-mean-degree`` drops the worksite
column ``Log(Mean degree)``, which equals ``Log(No. edges) − Log(No. workers
discovered)`` to 0.0035 at every worksite. Settings for every sampler: 4 chains ×
(1,000 warm-up + 1,000 draws), target acceptance 0.9, maximum tree depth 10 (each
tool's own default otherwise). The parent process writes the data once; each sampler
runs in its own process and returns its draws.

For each sampler it prints ``peer_*`` lines: wall seconds and CPU seconds of the fit
(model building and compilation included; CPU over every thread and child process),
mean leapfrog steps per draw, the minimum bulk ESS and maximum R-hat over every
latent parameter (ArviZ, computed here for all samplers alike), bulk ESS per
CPU-second, and the project's ratio to each peer in ESS per CPU-second. It then
prints ``peer_agreement`` lines: for σ_u, τ_β, α, three worksite coefficients and the
mean worker slopes, each sampler's posterior mean and its difference from the
project's in units of the combined Monte Carlo standard error (|z| < 3 expected).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PEERS = ("numpyro", "pymc", "nutpie", "stan")
DESIGNS = ("headline", "without-mean-degree")
#: The latent parameters every sampler returns, shaped (chains, draws, ...).
LATENT = ("alpha", "beta_group_scale", "beta_group", "site_scale", "site_effect_raw",
          "beta_individual_mean", "beta_individual_scale", "beta_individual_raw")
COLLINEAR_COLUMN = "Log(Mean degree)"


# ------------------------------------------------------------------------- data


def write_data(folder: Path, design_name: str) -> dict:
    """The training split's grouped rows and worksite features, as ``data.npz``."""
    from organizing.data import load_campaign, locate_data
    from organizing.features import headline_design, study_split
    from organizing.models.numpyro_models import group_workers

    design = headline_design(load_campaign(locate_data(download=False)))
    train, _ = study_split(design.n_workers)
    design = design.subset(train)
    site_x, names = design.site_x, list(design.site_features)
    if design_name == "without-mean-degree" and COLLINEAR_COLUMN in names:
        keep = [q for q, name in enumerate(names) if name != COLLINEAR_COLUMN]
        site_x, names = site_x[:, keep], [names[q] for q in keep]
    grouped = group_workers(design.worker_x, design.site_index, design.signed)
    np.savez(folder / "data.npz", site_x=site_x, worker_x=grouped.worker_x,
             site_index=grouped.site_index, signed=grouped.signed, trials=grouped.trials,
             raw_worker_x=design.worker_x, raw_site_index=design.site_index,
             raw_signed=design.signed)
    return {"site_features": names, "workers": int(design.n_workers),
            "rows": int(len(grouped.trials)), "sites": int(site_x.shape[0])}


def _load(folder: Path) -> dict:
    with np.load(folder / "data.npz") as data:
        return {k: data[k] for k in data.files}


def _cpu() -> float:
    """CPU seconds of this process and of its finished child processes."""
    own, children = (resource.getrusage(who) for who in
                     (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _save(folder: Path, peer: str, draws: dict, steps: np.ndarray, info: dict) -> None:
    np.savez(folder / f"{peer}.npz", steps=np.asarray(steps, dtype=float),
             **{k: np.asarray(draws[k], dtype=float) for k in LATENT})
    (folder / f"{peer}.json").write_text(json.dumps(info))


# ---------------------------------------------------------------------- samplers


def run_numpyro(folder: Path, options) -> None:
    """The project's path: ``run_nuts`` on the training workers (it merges them itself)."""
    from organizing.inference.nuts import run_nuts
    from organizing.pipeline import enable_compilation_cache

    enable_compilation_cache()
    data = _load(folder)
    cpu, start = _cpu(), time.perf_counter()
    result = run_nuts("headline", data["site_x"], data["raw_worker_x"], data["raw_site_index"],
                      data["raw_signed"], chains=options.chains, warmup=options.warmup,
                      samples=options.samples, target_accept=options.target_accept, seed=0)
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    _save(folder, "numpyro", result.draws, result.num_steps,
          {"wall": wall, "cpu": cpu, "note": f"chains {result.settings.chain_method}, "
           f"{'float64' if result.settings.x64 else 'float32'}"})


def pymc_model(data: dict):
    """The headline model in PyMC, as written in the module docstring."""
    import pymc as pm

    from organizing.models.pyro_models import HEADLINE_PRIORS as prior

    site_x, worker_x, site = data["site_x"], data["worker_x"], data["site_index"]
    n_sites, n_site_features = site_x.shape
    n_worker_features = worker_x.shape[1]
    with pm.Model() as model:
        alpha = pm.Normal("alpha", prior.alpha_loc, prior.alpha_scale)
        beta_group_scale = pm.HalfNormal("beta_group_scale", prior.group_scale)
        beta_group = pm.Normal("beta_group", 0.0, beta_group_scale, shape=n_site_features)
        site_scale = pm.HalfNormal("site_scale", prior.site_scale)
        site_effect_raw = pm.Normal("site_effect_raw", 0.0, 1.0, shape=n_sites)
        mean_b = pm.Normal("beta_individual_mean", 0.0, prior.mean_scale,
                           shape=n_worker_features)
        scale_b = pm.HalfNormal("beta_individual_scale", prior.individual_scale,
                                shape=n_worker_features)
        raw_b = pm.Normal("beta_individual_raw", 0.0, 1.0, shape=(n_sites, n_worker_features))
        b = mean_b + scale_b * raw_b  # (S, P)
        site_term = pm.math.dot(site_x, beta_group) + site_scale * site_effect_raw  # (S,)
        logit = alpha + site_term[site] + (worker_x * b[site]).sum(axis=1)
        pm.Binomial("signed", n=data["trials"], logit_p=logit, observed=data["signed"])
    return model


def _from_inference_data(idata) -> dict:
    return {k: idata.posterior[k].values for k in LATENT}


def run_pymc(folder: Path, options) -> None:
    """PyMC's own NUTS, chains in ``cores`` processes."""
    import pymc as pm

    data = _load(folder)
    cpu, start = _cpu(), time.perf_counter()
    with pymc_model(data):
        idata = pm.sample(draws=options.samples, tune=options.warmup, chains=options.chains,
                          cores=options.cores, target_accept=options.target_accept,
                          random_seed=0, progressbar=False, compute_convergence_checks=False)
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    _save(folder, "pymc", _from_inference_data(idata), idata.sample_stats["n_steps"].values,
          {"wall": wall, "cpu": cpu, "note": f"{options.cores} processes"})


def run_nutpie(folder: Path, options, *, low_rank: bool = False) -> None:
    """nutpie on the PyMC model (compiled with numba), its own adaptation."""
    import nutpie

    data = _load(folder)
    cpu, start = _cpu(), time.perf_counter()
    compiled = nutpie.compile_pymc_model(pymc_model(data))
    compile_seconds = time.perf_counter() - start
    idata = nutpie.sample(compiled, draws=options.samples, tune=options.warmup,
                          chains=options.chains, cores=options.cores, seed=0,
                          target_accept=options.target_accept, progress_bar=False,
                          low_rank_modified_mass_matrix=low_rank)
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    name = "nutpie-low-rank" if low_rank else "nutpie"
    _save(folder, name, _from_inference_data(idata), idata.sample_stats["n_steps"].values,
          {"wall": wall, "cpu": cpu, "note": f"{compile_seconds:.0f} s compiling"
           + (", low-rank mass matrix" if low_rank else "")})


#: The headline model in Stan (rstan 2.21's language: old array syntax).
STAN_MODEL = """
data {
  int<lower=1> R; int<lower=1> S; int<lower=1> Q; int<lower=1> P;
  matrix[S, Q] site_x; matrix[R, P] worker_x;
  int<lower=1, upper=S> site[R]; int<lower=0> trials[R]; int<lower=0> signers[R];
  real alpha_loc; real alpha_scale; real group_scale; real site_scale_prior;
  real mean_scale; real individual_scale;
}
parameters {
  real alpha; real<lower=0> beta_group_scale; vector[Q] beta_group;
  real<lower=0> site_scale; vector[S] site_effect_raw;
  vector[P] beta_individual_mean; vector<lower=0>[P] beta_individual_scale;
  matrix[S, P] beta_individual_raw;
}
model {
  matrix[S, P] b = rep_matrix(beta_individual_mean', S)
                   + beta_individual_raw .* rep_matrix(beta_individual_scale', S);
  vector[S] site_term = site_x * beta_group + site_scale * site_effect_raw;
  alpha ~ normal(alpha_loc, alpha_scale);
  beta_group_scale ~ normal(0, group_scale);
  beta_group ~ normal(0, beta_group_scale);
  site_scale ~ normal(0, site_scale_prior);
  site_effect_raw ~ std_normal();
  beta_individual_mean ~ normal(0, mean_scale);
  beta_individual_scale ~ normal(0, individual_scale);
  to_vector(beta_individual_raw) ~ std_normal();
  signers ~ binomial_logit(trials, alpha + site_term[site] + rows_dot_product(worker_x, b[site]));
}
"""

STAN_DRIVER = r"""
suppressMessages(library(rstan))
args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]; chains <- as.integer(args[2]); warmup <- as.integer(args[3])
samples <- as.integer(args[4]); cores <- as.integer(args[5]); adapt <- as.numeric(args[6])
data <- jsonlite::fromJSON(file.path(folder, "stan_data.json"))
# Debian's r-cran-bh installs Boost's headers in /usr/include, where rstan does not look
if (!file.exists(rstan_options("boost_lib"))) {
  headers <- system.file("include", package = "BH")
  rstan_options(boost_lib = if (nzchar(headers)) headers else "/usr/include")
}
start <- proc.time()
model <- stan_model(file.path(folder, "headline.stan"))
compiled <- proc.time() - start
fit <- sampling(model, data = data, chains = chains, iter = warmup + samples,
                warmup = warmup, cores = cores, seed = 1,
                control = list(adapt_delta = adapt, max_treedepth = 10), refresh = 0)
used <- proc.time() - start
draws <- as.array(fit)  # iterations x chains x parameters
steps <- sapply(get_sampler_params(fit, inc_warmup = FALSE), function(p) p[, "n_leapfrog__"])
write.csv(data.frame(parameter = rep(dimnames(draws)[[3]], each = dim(draws)[1] * dim(draws)[2]),
                     chain = rep(rep(seq_len(dim(draws)[2]), each = dim(draws)[1]), dim(draws)[3]),
                     value = as.vector(draws)),
          file.path(folder, "stan_draws.csv"), row.names = FALSE)
write.csv(steps, file.path(folder, "stan_steps.csv"), row.names = FALSE)
cpu <- sum(used[c(1, 2, 4, 5)], na.rm = TRUE)
writeLines(sprintf('{"wall": %f, "cpu": %f, "compile": %f}', used[3], cpu, compiled[3]),
           file.path(folder, "stan_time.json"))
"""


def stan_missing() -> str | None:
    """Why Stan cannot run here (None when ``Rscript`` with rstan and jsonlite is present)."""
    install = "Debian: apt-get install r-cran-rstan r-cran-bh"
    if shutil.which("Rscript") is None:
        return f"Rscript not found ({install})"
    done = subprocess.run(["Rscript", "-e", "library(rstan); library(jsonlite); library(BH)"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return f"R packages rstan, jsonlite or BH missing ({install})"
    return None


def _stan_parameters(frame, chains: int, data: dict) -> dict:
    """rstan's flat names (``beta_group[1]``, ``beta_individual_raw[s,p]``) to arrays."""
    S, Q = data["site_x"].shape
    P = data["worker_x"].shape[1]
    shapes = {"alpha": (), "beta_group_scale": (), "beta_group": (Q,), "site_scale": (),
              "site_effect_raw": (S,), "beta_individual_mean": (P,),
              "beta_individual_scale": (P,), "beta_individual_raw": (S, P)}
    values = {}
    for parameter, rows in frame.groupby("parameter", sort=False):
        values[parameter] = rows.sort_values("chain", kind="stable")["value"].to_numpy()
    draws = {}
    for name, shape in shapes.items():
        if not shape:
            draws[name] = values[name].reshape(chains, -1)
            continue
        out = None
        for index in np.ndindex(shape):
            key = f"{name}[{','.join(str(i + 1) for i in index)}]"
            column = values[key].reshape(chains, -1)
            if out is None:
                out = np.empty((*column.shape, *shape))
            out[(slice(None), slice(None), *index)] = column
        draws[name] = out
    return draws


def run_stan(folder: Path, options) -> None:
    """Stan's NUTS through rstan (compilation included in the times)."""
    import pandas as pd

    from organizing.models.pyro_models import HEADLINE_PRIORS as prior

    data = _load(folder)
    (folder / "headline.stan").write_text(STAN_MODEL)
    (folder / "driver.R").write_text(STAN_DRIVER)
    S, Q = data["site_x"].shape
    stan_data = {
        "R": len(data["trials"]), "S": S, "Q": Q, "P": data["worker_x"].shape[1],
        "site_x": data["site_x"].tolist(), "worker_x": data["worker_x"].tolist(),
        "site": (data["site_index"] + 1).astype(int).tolist(),
        "trials": data["trials"].astype(int).tolist(),
        "signers": data["signed"].astype(int).tolist(),
        "alpha_loc": prior.alpha_loc, "alpha_scale": prior.alpha_scale,
        "group_scale": prior.group_scale, "site_scale_prior": prior.site_scale,
        "mean_scale": prior.mean_scale, "individual_scale": prior.individual_scale}
    (folder / "stan_data.json").write_text(json.dumps(stan_data))
    done = subprocess.run(["Rscript", str(folder / "driver.R"), str(folder),
                           str(options.chains), str(options.warmup), str(options.samples),
                           str(options.cores), str(options.target_accept)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError("rstan failed: " + " | ".join(lines[-4:]))
    timing = json.loads((folder / "stan_time.json").read_text())
    draws = _stan_parameters(pd.read_csv(folder / "stan_draws.csv"), options.chains, data)
    steps = pd.read_csv(folder / "stan_steps.csv").to_numpy().T  # (chains, draws)
    _save(folder, "stan", draws, steps, {"wall": timing["wall"], "cpu": timing["cpu"],
                                         "note": f"rstan, {timing['compile']:.0f} s compiling"})


RUNNERS = {"numpyro": run_numpyro, "pymc": run_pymc, "nutpie": run_nutpie,
           "nutpie-low-rank": lambda folder, options: run_nutpie(folder, options, low_rank=True),
           "stan": run_stan}


# ---------------------------------------------------------------------- summary


def summarize(folder: Path, peer: str) -> dict:
    """Timing, steps per draw, min bulk ESS and max R-hat over every latent parameter."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az

    info = json.loads((folder / f"{peer}.json").read_text())
    with np.load(folder / f"{peer}.npz") as saved:
        draws = {k: saved[k] for k in LATENT}
        steps = saved["steps"]
    data = az.from_dict(posterior=draws)
    ess = az.ess(data, method="bulk")
    rhat = az.rhat(data)
    min_ess = min(float(ess[k].min()) for k in LATENT)
    max_rhat = max(float(rhat[k].max()) for k in LATENT)
    mcse = az.mcse(data, method="mean")
    return {**info, "peer": peer, "steps": float(steps.mean()), "min_ess": min_ess,
            "max_rhat": max_rhat, "ess_per_cpu": min_ess / info["cpu"],
            "means": {k: np.asarray(v.mean(axis=(0, 1))) for k, v in draws.items()},
            "mcse": {k: np.asarray(mcse[k].values) for k in LATENT}}


def agreement(rows: list[dict], site_features: list[str]) -> list[str]:
    """Posterior means of a few quantities per sampler, and z against the project's."""
    quantities = [("sigma_u", "site_scale", ()), ("tau_beta", "beta_group_scale", ()),
                  ("alpha", "alpha", ())]
    for name in ("NDO (Eigen., Pearson)", "Log(No. workers contacted)",
                 "Log(Centrality variance)"):
        if name in site_features:
            quantities.append((f"beta[{name}]", "beta_group", (site_features.index(name),)))
    quantities += [(f"mu_b[{p}]", "beta_individual_mean", (p,)) for p in range(6)]
    reference = next((r for r in rows if r["peer"] == "numpyro"), rows[0])
    lines = []
    for label, site, index in quantities:
        if index and index[0] >= len(reference["means"][site]):
            continue
        ref_mean, ref_se = (float(reference[k][site][index]) for k in ("means", "mcse"))
        parts = []
        for row in rows:
            mean, se = float(row["means"][site][index]), float(row["mcse"][site][index])
            z = (mean - ref_mean) / np.hypot(se, ref_se) if row is not reference else 0.0
            parts.append(f"{row['peer']} {mean:.3f} (z {z:+.1f})")
        lines.append(f"peer_agreement {label}: " + "; ".join(parts))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", nargs="+", default=list(PEERS),
                        choices=[*PEERS, "nutpie-low-rank"])
    parser.add_argument("--design", choices=DESIGNS, default="headline")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--target-accept", type=float, default=0.9)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", metavar="DIR",
                        help="write the data and every sampler's draws to DIR (kept)")
    parser.add_argument("--report", nargs="+", metavar="DIR",
                        help="only print the table for the draws already kept in these DIRs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        RUNNERS[options.child](Path(options.folder), options)
        return
    if options.report:
        rows, features = [], None
        for name in options.report:
            folder = Path(name)
            features = json.loads((folder / "shape.json").read_text())["site_features"]
            for peer in [*PEERS, "nutpie-low-rank"]:
                if (folder / f"{peer}.json").exists():
                    rows.append(summarize(folder, peer))
                    _print_row(rows[-1])
        _print_comparison(rows, features)
        return

    from organizing.data import locate_data
    from organizing.data.io import DataError

    try:
        locate_data(download=False)
    except DataError:
        print("peer_skipped all: the campaign's data files were not found")
        return
    with tempfile.TemporaryDirectory() as temporary:
        name = options.keep or temporary
        folder = Path(name)
        folder.mkdir(parents=True, exist_ok=True)
        shape = write_data(folder, options.design)
        (folder / "shape.json").write_text(json.dumps(shape))
        print(f"peer_data design {options.design} workers {shape['workers']} rows "
              f"{shape['rows']} sites {shape['sites']} worksite columns "
              f"{len(shape['site_features'])} chains {options.chains} warmup {options.warmup} "
              f"samples {options.samples} target_accept {options.target_accept} "
              f"cores {os.cpu_count()}", flush=True)
        rows = []
        for peer in options.peers:
            reason = _missing(peer)
            if reason:
                print(f"peer_skipped {peer}: {reason}", flush=True)
                continue
            command = [sys.executable, os.path.abspath(__file__), "--child", peer,
                       "--folder", name, "--chains", str(options.chains),
                       "--warmup", str(options.warmup), "--samples", str(options.samples),
                       "--target-accept", str(options.target_accept),
                       "--cores", str(options.cores)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no message"])[-1]
                print(f"peer_failed {peer}: {last}", flush=True)
                continue
            rows.append(summarize(folder, peer))
            _print_row(rows[-1])
        _print_comparison(rows, shape["site_features"])


def _print_row(row: dict) -> None:
    print(f"peer {row['peer']}: wall {row['wall']:.1f} s, CPU {row['cpu']:.1f} s, "
          f"steps/draw {row['steps']:.1f}, min bulk ESS {row['min_ess']:.0f}, "
          f"max R-hat {row['max_rhat']:.3f}, ESS/CPU-s {row['ess_per_cpu']:.2f} "
          f"({row['note']})", flush=True)


def _print_comparison(rows: list[dict], site_features: list[str]) -> None:
    own = next((r for r in rows if r["peer"] == "numpyro"), None)
    for row in rows:
        if own is not None and row is not own:
            print(f"peer_ratio numpyro/{row['peer']}: ESS per CPU-s "
                  f"{own['ess_per_cpu'] / row['ess_per_cpu']:.1f}x, wall "
                  f"{row['wall'] / own['wall']:.1f}x faster, steps/draw "
                  f"{own['steps']:.0f} vs {row['steps']:.0f}")
    if len(rows) > 1:
        for line in agreement(rows, site_features):
            print(line)


def _missing(peer: str) -> str | None:
    """Why a peer cannot run here, or None."""
    if peer == "stan":
        return stan_missing()
    if peer in ("pymc", "nutpie", "nutpie-low-rank"):
        import importlib.util

        module = "pymc" if peer == "pymc" else "nutpie"
        if importlib.util.find_spec(module) is None:
            return f"{module} not installed (pip install -e '.[bench]')"
    return None


if __name__ == "__main__":  # samplers start worker processes: keep this guard
    main()
