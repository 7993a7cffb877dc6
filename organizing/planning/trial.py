r"""Analyse a randomized trial once it has run, as its protocol sheet says.

:func:`load_trial` reads the protocol, checks the assignment file against the
SHA-256 the protocol recorded, reads the outcomes and matches them unit by unit:
an outcome for a unit that was never assigned, a unit counted twice, or a unit
without an outcome (unless allowed, then with a note) stops the analysis with one
line (:class:`MismatchError`) before anything is computed. The result is a list
of *cells*: per store (worksite design) or per store and arm (worker design), the
workers :math:`n_c`, the signers :math:`y_c`, the arm :math:`T_c`, the store's block
and its forecast rate.

:func:`analyse` then runs three analyses.

1. **The pre-specified test.** Worksite design: the least-squares regression of the
   stores' signing rates on the arm, with one intercept per block
   (:func:`store_regression`; a pooled *t*-test when unblocked, a paired *t*-test for
   pairs). Worker design: the Cochran-Mantel-Haenszel test over stores, with the
   pooled within-store difference as its estimate
   (:func:`organizing.planning.analyses.stratified_difference`).
2. **The covariate-adjusted estimate** (worksite design, when the protocol names the
   forecast rate as covariate): the same regression with the forecast rate added.
3. **A Bayesian multilevel estimate** (NumPyro NUTS): for cell :math:`c` of store
   :math:`s` in block :math:`b`,

   .. math::

       y_c \sim \operatorname{Binomial}(n_c, \operatorname{expit}\eta_c), \qquad
       \eta_c = \alpha + \sigma_u z_s + \gamma\,\tilde x_s + \delta T_c,
       \qquad z_s \sim \mathcal N(0, 1),

   with :math:`\tilde x_s` the centred logit of the forecast rate (when the protocol
   adjusts for it; the variable stores were paired on is usually that rate, so the
   pairs need no intercepts of their own here). Priors
   (:class:`organizing.planning.protocol.Prior`): :math:`\alpha \sim \mathcal N(m,
   s)`, :math:`\delta \sim \mathcal N(0, 1)`, :math:`\sigma_u \sim
   \text{HalfNormal}(1.5)` (or a log-normal fitted to the campaign's between-store
   sd when the protocol says so), :math:`\gamma \sim \mathcal N(1, 1)`. The effect is
   reported on the scale a trial is about, the average change in signing probability
   over the trial's workers,

   .. math::

       \mathrm{APE} = \frac{\sum_c n_c\,[\operatorname{expit}(\eta_c^{T=1}) -
       \operatorname{expit}(\eta_c^{T=0})]}{\sum_c n_c},

   per posterior draw: its mean, 90% interval and :math:`P(\mathrm{APE} > 0)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from organizing.planning import files
from organizing.planning import protocol as protocol_mod
from organizing.planning.analyses import cmh_test, stratified_difference
from organizing.planning.common import json_safe
from organizing.planning.protocol import Prior, Protocol


class MismatchError(ValueError):
    """Outcomes that do not match the assignment; the message is one line."""


# ----------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class TrialData:
    """A trial's cells, ready to analyse (no worker IDs: counts per store and arm)."""

    design: str
    cells: pd.DataFrame  # store (0..S-1), block (0..B-1), treated (bool), n, y, forecast
    blocked: bool
    notes: tuple[str, ...]


def read_assignment(protocol: Protocol, protocol_path) -> pd.DataFrame:
    """The assignment file named by the protocol, checked against its recorded SHA-256."""
    path = protocol_mod.assignment_path(protocol, protocol_path)
    if not path.is_file():
        raise MismatchError(f"{path}: the assignment file named by the protocol is missing")
    if protocol_mod.sha256(path) != protocol.assignment["sha256"]:
        raise MismatchError(f"{path}: the assignment file has changed since the protocol was "
                            "written (its sha256 differs)")
    required = (("store_id", "workers", "block", "arm") if protocol.design == "worksite"
                else ("worker_id", "store_id", "block", "arm"))
    table = files.read_csv(path, required, ("forecast",), "assignment")
    table["treated"] = files.read_arms(table, path)
    table["block"] = files.whole_numbers(table, "block", path, low=1)
    if protocol.design == "worksite":
        table["workers"] = files.whole_numbers(table, "workers", path, low=1)
        table["forecast"] = (files.rates(table, "forecast", path) if "forecast" in table
                             else np.nan)
    return table


def _outcome_format(columns, design: str) -> str:
    if design == "worksite":
        if {"worker_id", "store_id", "signed"} <= columns:
            return "workers"
        if {"store_id", "workers", "signed"} <= columns:
            return "stores"
        raise MismatchError("the outcome file needs worker_id, store_id and signed (one row "
                            "per worker) or store_id, workers and signed (one row per store) "
                            "for a worksite-randomized trial")
    if {"worker_id", "signed"} <= columns:
        return "workers"
    if {"store_id", "arm", "workers", "signed"} <= columns:
        return "cells"
    raise MismatchError("the outcome file needs worker_id and signed (one row per worker) or "
                        "store_id, arm, workers and signed (one row per store and arm) for a "
                        "worker-randomized trial")


def _signed(frame, path) -> np.ndarray:
    values = files.whole_numbers(frame, "signed", path, low=0)
    if np.any(values > 1):
        raise MismatchError(f"{path}: signed must be 0 or 1 in a file with one row per worker")
    return values


def _missing(kind: str, count: int, total: int, allow: bool, notes: list) -> None:
    if not count:
        return
    if not allow:
        raise MismatchError(f"{count} of {total} assigned {kind} have no outcome; pass "
                            "--allow-missing to analyse the others (the report will say so)")
    notes.append(f"{count} of {total} assigned {kind} have no outcome and are left out; "
                 "if they left because of the tactic the comparison is biased")


def load_trial(protocol_path, outcomes_path, *, allow_missing: bool = False
               ) -> tuple[Protocol, TrialData]:
    """Read and match a trial's protocol, assignment and outcomes (module docstring)."""
    protocol = protocol_mod.read(protocol_path)
    assignment = read_assignment(protocol, protocol_path)
    frame = files.read_csv(outcomes_path, (), ("worker_id", "store_id", "arm", "workers",
                                               "signed", *files.WINDOW_COLUMNS), "outcome file")
    kind = _outcome_format(set(frame.columns), protocol.design)
    notes: list[str] = []
    window = files.read_window(frame, outcomes_path)
    planned = (protocol.window.get("start"), protocol.window.get("end"))
    if window is not None and planned != (None, None) and tuple(window) != planned:
        raise MismatchError(f"{outcomes_path}: the outcome window {window[0]} to {window[1]} "
                            f"is not the protocol's {planned[0]} to {planned[1]}")
    if window is None and planned != (None, None):
        notes.append(f"the outcome file does not state its window; the protocol's "
                     f"({planned[0]} to {planned[1]}) is assumed")
    if protocol.design == "worksite":
        cells = _worksite_cells(assignment, frame, kind, outcomes_path, allow_missing, notes)
    else:
        cells = _worker_cells(assignment, frame, kind, outcomes_path, allow_missing, notes)
    blocked = protocol.design == "worksite" and protocol.blocks.get("by") in ("size", "rate")
    return protocol, TrialData(protocol.design, cells, blocked, tuple(notes))


def _unknown(ids: pd.Series, known: pd.Series, what: str, path) -> None:
    unknown = ~ids.isin(known)
    if unknown.any():
        raise MismatchError(f"{path}: {int(unknown.sum())} {what} in the outcome file "
                            "were never assigned (is this the right file?)")


def _worksite_cells(assignment, frame, kind, path, allow_missing, notes) -> pd.DataFrame:
    if kind == "workers":
        files.unique_ids(frame, "worker_id", path)
        signed = _signed(frame, path)
        _unknown(frame["store_id"], assignment["store_id"], "stores", path)
        counts = (pd.DataFrame({"store_id": frame["store_id"], "signed": signed})
                  .groupby("store_id")["signed"].agg(["size", "sum"]))
        workers, signers = counts["size"], counts["sum"]
    else:
        files.unique_ids(frame, "store_id", path)
        _unknown(frame["store_id"], assignment["store_id"], "stores", path)
        workers = pd.Series(files.whole_numbers(frame, "workers", path, low=1),
                            index=frame["store_id"])
        signers = pd.Series(files.whole_numbers(frame, "signed", path), index=frame["store_id"])
        if np.any(signers > workers):
            raise MismatchError(f"{path}: signed exceeds workers on some rows")
    present = assignment["store_id"].isin(workers.index)
    _missing("stores", int((~present).sum()), len(assignment), allow_missing, notes)
    table = assignment[present].reset_index(drop=True)
    n = workers.loc[table["store_id"]].to_numpy()
    changed = n != table["workers"].to_numpy()
    if changed.any():
        notes.append(f"{int(changed.sum())} store(s) report a different number of workers than "
                     f"their roster at randomization ({int(table['workers'].sum()):,} assigned, "
                     f"{int(n.sum()):,} with outcomes)")
    if table["treated"].all() or not table["treated"].any():
        raise MismatchError("the stores with outcomes are all in one arm")
    return pd.DataFrame({
        "store": np.arange(len(table)), "block": pd.factorize(table["block"])[0],
        "treated": table["treated"].to_numpy(), "n": n,
        "y": signers.loc[table["store_id"]].to_numpy(),
        "forecast": table["forecast"].to_numpy(dtype=float)})


def _worker_cells(assignment, frame, kind, path, allow_missing, notes) -> pd.DataFrame:
    if kind == "workers":
        files.unique_ids(frame, "worker_id", path)
        signed = _signed(frame, path)
        _unknown(frame["worker_id"], assignment["worker_id"], "workers", path)
        outcome = pd.Series(signed, index=frame["worker_id"])
        present = assignment["worker_id"].isin(outcome.index)
        _missing("workers", int((~present).sum()), len(assignment), allow_missing, notes)
        table = assignment[present].assign(
            y=outcome.loc[assignment.loc[present, "worker_id"]].to_numpy())
        grouped = table.groupby(["store_id", "treated"])["y"].agg(["size", "sum"]).reset_index()
        grouped = grouped.rename(columns={"size": "n", "sum": "y"})
    else:
        arms = files.read_arms(frame, path)
        keys = frame["store_id"] + "\x00" + frame["arm"]
        if keys.duplicated().any():
            raise MismatchError(f"{path}: a store and arm appear more than once")
        _unknown(frame["store_id"], assignment["store_id"], "stores", path)
        n = files.whole_numbers(frame, "workers", path, low=1)
        y = files.whole_numbers(frame, "signed", path)
        if np.any(y > n):
            raise MismatchError(f"{path}: signed exceeds workers on some rows")
        assigned = assignment.groupby(["store_id", "treated"]).size()
        index = pd.MultiIndex.from_arrays([frame["store_id"], arms])
        expected = assigned.reindex(index).to_numpy()
        if np.any(np.isnan(expected)) or np.any(n > expected):
            raise MismatchError(f"{path}: some stores report more workers in an arm than "
                                "were assigned to it")
        _missing("workers", int(assigned.sum()) - int(n.sum()), int(assigned.sum()),
                 allow_missing, notes)
        grouped = pd.DataFrame({"store_id": frame["store_id"], "treated": arms, "n": n, "y": y})
    both = grouped.groupby("store_id")["treated"].nunique() == 2
    dropped = int((~both).sum())
    if dropped:
        notes.append(f"{dropped} store(s) have outcomes in one arm only and add nothing to the "
                     "within-store comparison")
    grouped = grouped[grouped["store_id"].isin(both[both].index)]
    if grouped["store_id"].nunique() < 2:
        raise MismatchError("fewer than 2 stores have outcomes in both arms")
    store = pd.factorize(grouped["store_id"])[0]
    return pd.DataFrame({"store": store, "block": store, "treated": grouped["treated"].to_numpy(),
                         "n": grouped["n"].to_numpy(), "y": grouped["y"].to_numpy(),
                         "forecast": np.nan}).reset_index(drop=True)


# ----------------------------------------------------------------------------- analyses


@dataclass(frozen=True)
class Estimate:
    """A difference in signing rates (fractions) with its interval and test."""

    name: str
    estimate: float
    lower: float
    upper: float
    level: float
    pvalue: float
    statistic: str  # e.g. "t = 2.31 on 19 df"


@dataclass(frozen=True)
class BayesEstimate:
    """The Bayesian model's average change over the trial's workers (fractions)."""

    mean: float
    lower: float
    upper: float
    level: float
    prob_positive: float
    log_odds_ratio: float  # posterior mean of δ (the model's worker-level scale)
    prior: str
    max_r_hat: float
    min_ess_bulk: float
    divergences: int
    flags: tuple[str, ...]
    draws: int


@dataclass(frozen=True)
class TrialAnalysis:
    """Everything ``organizing analyse-trial`` reports; ``to_dict()`` is JSON-safe."""

    design: str
    stores: int
    workers: int
    arms: pd.DataFrame  # arm, stores, workers, signers, rate (worker-weighted)
    alpha: float
    test: Estimate
    adjusted: Estimate | None
    bayes: BayesEstimate
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rejects(self) -> bool:
        return bool(self.test.pvalue < self.alpha)

    def to_dict(self) -> dict:
        out = json_safe({k: v for k, v in self.__dict__.items() if k != "arms"})
        out["arms"] = json_safe(self.arms.to_dict(orient="records"))
        out["rejects_no_effect"] = self.rejects
        return out


class TooFewStores(ValueError):
    """A trial has too few stores for a regression's parameters (no degrees of freedom)."""


def store_regression(rates, treated, blocks=None, covariate=None, level: float = 0.95
                     ) -> tuple[float, float, float, float, int]:
    r"""One trial's least-squares regression of store rates on the arm (module docstring).

    :math:`\hat p_s = \mu_{b(s)} + \tau T_s [+ \gamma x_s] + \varepsilon_s` with any
    block labels (blocks may differ in size); blocks with a single store are merged
    into none (they only fit themselves). Returns (τ̂, lower, upper, p, df) with a
    ``level`` *t* interval on :math:`n - \operatorname{rank}(X)` df; :class:`TooFewStores`
    when that is below one.
    """
    y = np.asarray(rates, dtype=float)
    arm = np.asarray(treated, dtype=float)
    blocks = np.zeros(y.size, dtype=int) if blocks is None else pd.factorize(
        np.asarray(blocks))[0]
    dummies = (blocks[:, None] == np.unique(blocks)[None, :]).astype(float)
    columns = [arm, *dummies.T]
    if covariate is not None:
        columns.append(np.asarray(covariate, dtype=float))
    X = np.column_stack(columns)
    coef, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    df = y.size - rank
    if df < 1:
        raise TooFewStores("too few stores for the regression's parameters")
    residual = y - X @ coef
    sigma2 = residual @ residual / df
    cov = sigma2 * np.linalg.pinv(X.T @ X)
    se = math.sqrt(max(cov[0, 0], 0.0))
    estimate = float(coef[0])
    if se == 0:
        p = 1.0 if estimate == 0 else 0.0
        return estimate, estimate, estimate, p, int(df)
    t = estimate / se
    half = stats.t.ppf(0.5 + level / 2, df) * se
    return estimate, estimate - half, estimate + half, float(2 * stats.t.sf(abs(t), df)), int(df)


def _test(data: TrialData, alpha: float) -> tuple[Estimate, Estimate | None]:
    cells, level = data.cells, 1 - alpha
    if data.design == "worker":
        treated, control = cells[cells["treated"]], cells[~cells["treated"]]
        both = treated.merge(control, on="store", suffixes=("_1", "_0"))
        estimate, se, df = stratified_difference(both["y_1"], both["n_1"], both["y_0"],
                                                 both["n_0"])
        statistic, p = cmh_test(both["y_1"], both["n_1"], both["y_0"], both["n_0"])
        half = stats.t.ppf(0.5 + level / 2, df) * se
        return Estimate("Cochran-Mantel-Haenszel test, each store a stratum; estimate: "
                        "within-store difference pooled over stores", estimate,
                        estimate - half, estimate + half, level, float(p),
                        f"chi-squared = {float(statistic):.2f} on 1 df"), None
    rates = cells["y"] / cells["n"]
    blocks = cells["block"] if data.blocked else None
    name = "t-test on the stores' signing rates" + (", one intercept per block"
                                                     if data.blocked else "")
    est, low, high, p, df = store_regression(rates, cells["treated"], blocks, level=level)
    test = Estimate(name, est, low, high, level, p, f"{df} df")
    adjusted = None
    if cells["forecast"].notna().all():
        x = special.logit(cells["forecast"].to_numpy())
        try:
            est, low, high, p, df = store_regression(rates, cells["treated"], blocks, x, level)
        except TooFewStores:  # the covariate's slope takes the last degree of freedom:
            return test, None  # the plain test alone
        adjusted = Estimate(name + ", adjusted for the logit of the forecast rate", est, low,
                            high, level, p, f"{df} df")
    return test, adjusted


def trial_model(store, treated, covariate, n, y, *, stores: int, prior: Prior):
    r"""The Bayesian trial model of the module docstring (NumPyro; cells as arrays).

    The binomial likelihood is written as its kernel, :math:`y\log\sigma(\eta) + (n -
    y)\log\sigma(-\eta)` (the binomial coefficient is a constant), so cells with
    :math:`n = 0` (padding) add nothing.
    """
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    alpha = numpyro.sample("alpha", dist.Normal(prior.intercept_mean, prior.intercept_sd))
    delta = numpyro.sample("delta", dist.Normal(0.0, prior.effect_sd))
    if prior.store_sd_log_mean is not None:
        sigma = numpyro.sample("store_sd", dist.LogNormal(prior.store_sd_log_mean,
                                                          prior.store_sd_log_sd))
    else:
        sigma = numpyro.sample("store_sd", dist.HalfNormal(prior.store_sd))
    with numpyro.plate("stores", stores):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0))
    eta = alpha + sigma * z[store]
    if covariate is not None:
        eta = eta + numpyro.sample("gamma", dist.Normal(1.0, 1.0)) * covariate
    numpyro.deterministic("base", eta)
    logit = eta + delta * treated
    numpyro.factor("y", jnp.sum(y * jax.nn.log_sigmoid(logit)
                                + (n - y) * jax.nn.log_sigmoid(-logit)))


_PAD = 64  # cells and stores are padded to a multiple of this: fewer distinct compilations


def _padded(values: np.ndarray, size: int, fill=0) -> np.ndarray:
    out = np.full(size, fill, dtype=np.asarray(values).dtype)
    out[: len(values)] = values
    return out


def fit_bayes(data: TrialData, prior: Prior, *, seed: int = 0, chains: int = 4,
              warmup: int = 1000, samples: int = 1000) -> BayesEstimate:
    """NUTS on :func:`trial_model`; the APE, its 90% interval and P(APE > 0).

    Cells and stores are padded with empty cells (``n = 0``) to a multiple of
    :data:`_PAD`, so that trials of similar size share one compiled sampler (JAX's
    persistent cache, when the caller enabled it); the padded stores' intercepts are
    draws from their prior and enter nothing. The chains run in parallel, one CPU
    device each, when JAX has the devices (as :mod:`organizing.inference.nuts` sets up).
    """
    # importing the NUTS module first asks XLA for one CPU device per chain
    from organizing.inference.nuts import _chain_method  # isort: skip
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS

    from organizing.inference.diagnostics import diagnose

    cells = data.cells
    count = len(cells)
    size = -(-count // _PAD) * _PAD
    stores = int(cells["store"].max()) + 1
    covariate = None
    if data.design == "worksite" and cells["forecast"].notna().all():
        x = special.logit(cells["forecast"].to_numpy())
        covariate = jnp.asarray(_padded(x - x.mean(), size, 0.0))
    args = dict(store=jnp.asarray(_padded(cells["store"].to_numpy(), size)),
                treated=jnp.asarray(_padded(cells["treated"].to_numpy(dtype=float), size)),
                covariate=covariate,
                n=jnp.asarray(_padded(cells["n"].to_numpy(dtype=float), size)),
                y=jnp.asarray(_padded(cells["y"].to_numpy(dtype=float), size)))
    mcmc = MCMC(NUTS(trial_model, target_accept_prob=0.9), num_warmup=warmup,
                num_samples=samples, num_chains=chains,
                chain_method=_chain_method(None, chains) if chains > 1 else "sequential",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), **args, stores=-(-stores // _PAD) * _PAD, prior=prior)
    draws = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    extra = mcmc.get_extra_fields(group_by_chain=True)
    checked = {k: v for k, v in draws.items() if k in ("alpha", "delta", "store_sd", "gamma")}
    checked["z"] = draws["z"][..., :stores]
    health = diagnose(checked, diverging=np.asarray(extra["diverging"]))
    base = draws["base"].reshape(-1, size)[:, :count]
    delta = draws["delta"].reshape(-1)
    n = cells["n"].to_numpy(dtype=float)
    ape = ((special.expit(base + delta[:, None]) - special.expit(base)) @ n) / n.sum()
    lower, upper = np.quantile(ape, [0.05, 0.95])
    return BayesEstimate(float(ape.mean()), float(lower), float(upper), 0.9,
                         float(np.mean(ape > 0)), float(delta.mean()), prior.source,
                         float(health.max_r_hat), float(health.min_ess_bulk),
                         int(health.divergences), tuple(health.flags), int(ape.size))


def analyse(protocol: Protocol, data: TrialData, *, seed: int = 0, chains: int = 4,
            warmup: int = 1000, samples: int = 1000) -> TrialAnalysis:
    """The three analyses of the module docstring, as the protocol names them."""
    cells = data.cells
    alpha = float(protocol.analysis["alpha"])
    if protocol.analysis.get("covariate") != "forecast":
        data = TrialData(data.design, cells.assign(forecast=np.nan), data.blocked, data.notes)
        cells = data.cells
    test, adjusted = _test(data, alpha)
    bayes = fit_bayes(data, protocol.prior, seed=seed, chains=chains, warmup=warmup,
                      samples=samples)
    arms = []
    for name, arm in (("control", False), ("treated", True)):
        part = cells[cells["treated"] == arm]
        arms.append({"arm": name, "stores": int(part["store"].nunique()),
                     "workers": int(part["n"].sum()), "signers": int(part["y"].sum()),
                     "rate": float(part["y"].sum() / part["n"].sum())})
    return TrialAnalysis(data.design, int(cells["store"].nunique()), int(cells["n"].sum()),
                         pd.DataFrame(arms), alpha, test, adjusted, bayes, data.notes)


# ----------------------------------------------------------------------------- rehearsal


def simulate_outcomes(protocol: Protocol, protocol_path, effect: float, *, seed: int = 0,
                      rate: float = 0.2, store_sd: float = 0.5,
                      rates: dict[str, float] | None = None) -> pd.DataFrame:
    r"""Outcomes of a rehearsal trial, to try the analysis before real data exist.

    Store :math:`s` signs at :math:`p_s = \operatorname{expit}(\operatorname{logit} r_s +
    \sigma z_s)`, with :math:`r_s` its rate in ``rates`` (by store ID), else its
    forecast rate in the assignment, else ``rate``, and :math:`\sigma` = ``store_sd``;
    treated workers at :math:`\operatorname{expit}(\operatorname{logit} p_s + \delta)`, with
    :math:`\delta` solved so that the expected average change over the trial's workers
    is ``effect`` (a fraction). Worksite design: one row per store (store_id, workers,
    signed); worker design: one row per worker (worker_id, signed); both with the
    protocol's window, if it has one.
    """
    if not (math.isfinite(effect) and -1 < effect < 1):
        raise ValueError(f"effect must be a fraction in (-1, 1), got {effect!r}")
    assignment = read_assignment(protocol, protocol_path)
    rng = np.random.default_rng(seed)
    if protocol.design == "worksite":
        stores = assignment[["store_id", "workers", "forecast", "treated"]]
        n = stores["workers"].to_numpy()
        treated = stores["treated"].to_numpy()
    else:
        stores = (assignment.groupby("store_id").agg(workers=("worker_id", "size"))
                  .reset_index().assign(forecast=np.nan))
        n = stores["workers"].to_numpy()
    base = stores["forecast"].to_numpy(dtype=float)
    if rates:
        known = stores["store_id"].map(rates).to_numpy(dtype=float)
        base = np.where(np.isfinite(known), known, base)
    base = np.where(np.isfinite(base), base, rate)
    logit = special.logit(np.clip(base, 1e-4, 1 - 1e-4)) + store_sd * rng.standard_normal(
        len(stores))
    if protocol.design == "worksite":
        exposed = n.astype(float)
    else:
        share = assignment.groupby("store_id")["treated"].mean()
        exposed = n * share.loc[stores["store_id"]].to_numpy()
    weights = exposed / exposed.sum()

    def gap(delta):
        change = special.expit(logit + delta) - special.expit(logit)
        return float(weights @ change) - effect

    delta = 0.0 if effect == 0 else optimize.brentq(gap, -30, 30)
    if protocol.design == "worksite":
        p = special.expit(logit + delta * treated)
        out = pd.DataFrame({"store_id": stores["store_id"], "workers": n,
                            "signed": rng.binomial(n, p)})
    else:
        index = pd.Series(np.arange(len(stores)), index=stores["store_id"])
        store = index.loc[assignment["store_id"]].to_numpy()
        p = special.expit(logit[store] + delta * assignment["treated"].to_numpy())
        out = pd.DataFrame({"worker_id": assignment["worker_id"],
                            "signed": (rng.random(len(assignment)) < p).astype(int)})
    if protocol.window.get("start") is not None:
        out = out.assign(window_start=protocol.window["start"],
                         window_end=protocol.window["end"])
    return out

