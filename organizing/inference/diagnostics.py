r"""Convergence diagnostics and PSIS-LOO for NUTS draws, with ArviZ.

:func:`diagnose` (of draws, or of a
:class:`~organizing.inference.nuts.NUTSResult`) computes, over every element of
every site, the rank-normalized split R-hat and the bulk and tail effective
sample sizes (Vehtari et al. 2021, ``az.rhat``, ``az.ess``), counts divergent
transitions and computes the E-BFMI of each chain (``az.bfmi``). It returns a
:class:`Diagnostics` whose ``flags`` say in words what is wrong, using the
usual thresholds: R-hat ≤ 1.01, bulk and tail ESS ≥ 100 per chain (400 for four
chains), no divergences, E-BFMI ≥ 0.3.

:func:`psis_loo` computes PSIS-LOO (``az.loo``) from a pointwise log-likelihood
(chains, samples, N) and returns a :class:`Loo` with the Pareto-k counts
(good ≤ min(1 − 1/log₁₀ S, 0.7), bad up to 1, very bad above 1; Vehtari et al.
2024). Observations whose log-likelihood varies over the draws by at most
``constant_tol`` (10⁻⁶) need no importance sampling: any importance-weighted
estimate of log p(y_i | y₋ᵢ) lies between the smallest and largest
log-likelihood of the draws, so elpd_i = log mean_s p(y_i | θ_s) is exact to
within that range, and their k is set to 0. This matters here: workers with
extreme numbers of notes have log-likelihoods near −1e−40 in every draw, their
importance weights are all equal, and ArviZ returns NaN for their elpd_i
(and meaningless Pareto k of 1 to 4 for columns that vary by 10⁻⁹ to 10⁻⁶).

:func:`loo_difference` compares two models on the same observations as
``az.compare`` does: the sum of pointwise differences and its standard error
:math:`\sqrt{n \operatorname{var}(d_i)}`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

with warnings.catch_warnings():  # ArviZ 0.2x announces its 1.0 refactor on import
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from organizing.inference.convergence import (  # noqa: E402  (the rule and its record)
    BFMI_MIN,
    ESS_PER_CHAIN_MIN,
    R_HAT_MAX,
    Diagnostics,
)

if TYPE_CHECKING:
    from organizing.inference.nuts import NUTSResult

#: Largest range of a column's log-likelihood over draws handled by plain importance
#: sampling when ArviZ's PSIS fails on it (the weights then differ by at most e^0.1).
NEARLY_CONSTANT_RANGE = 0.1


def _as_chains(value) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.ndim < 2:
        raise ValueError("draws need leading (chain, draw) dimensions")
    return value


def _element_name(site: str, index: tuple[int, ...]) -> str:
    return site if not index else f"{site}[{', '.join(map(str, index))}]"


def _worst(values: dict[str, np.ndarray], *, largest: bool) -> tuple[float, str]:
    """The largest (or smallest) finite element over all sites, and its name."""
    best, best_name = np.nan, ""
    for site, array in values.items():
        finite = np.where(np.isfinite(array), array, np.nan)
        if np.all(np.isnan(finite)):
            continue
        flat = int(np.nanargmax(finite) if largest else np.nanargmin(finite))
        value = float(finite.reshape(-1)[flat])
        if np.isnan(best) or (value > best if largest else value < best):
            index = tuple(int(i) for i in np.unravel_index(flat, array.shape))
            best, best_name = value, _element_name(site, index)
    return best, best_name


def diagnose(
    draws: Mapping[str, np.ndarray] | NUTSResult,
    *,
    diverging: np.ndarray | None = None,
    energy: np.ndarray | None = None,
    r_hat_max: float = R_HAT_MAX,
    ess_min: float | None = None,
    bfmi_min: float = BFMI_MIN,
) -> Diagnostics:
    """Diagnostics of draws shaped (chains, samples, *site shape), site by site.

    ``draws`` is a mapping of site names to arrays, or a
    :class:`~organizing.inference.nuts.NUTSResult` (then every site, sampled and
    deterministic, is checked, with the run's divergences and energies).
    ``diverging`` and ``energy`` are (chains, samples) sampler statistics (optional).
    ``ess_min`` defaults to 100 per chain. Elements that are constant over all
    draws (e.g. fixed by construction) are skipped; any other element whose R-hat
    or ESS cannot be computed is flagged.
    """
    if hasattr(draws, "energy") and hasattr(draws, "diverging"):
        diverging = draws.diverging if diverging is None else diverging
        energy = draws.energy if energy is None else energy
        draws = draws.draws
    draws = {k: _as_chains(v) for k, v in draws.items()}
    if not draws:
        raise ValueError("no draws to diagnose")
    chains, samples = next(iter(draws.values())).shape[:2]
    if ess_min is None:
        ess_min = ESS_PER_CHAIN_MIN * chains
    dataset = az.convert_to_dataset(draws)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        r_hat = az.rhat(dataset, method="rank")
        ess_bulk = az.ess(dataset, method="bulk")
        ess_tail = az.ess(dataset, method="tail")
    r_hats, bulks, tails, undefined = {}, {}, {}, 0
    for site, value in draws.items():
        constant = np.ptp(value, axis=(0, 1)) == 0
        site_r_hat = np.where(constant, np.nan, r_hat[site].values)
        site_bulk = np.where(constant, np.nan, ess_bulk[site].values)
        site_tail = np.where(constant, np.nan, ess_tail[site].values)
        undefined += int(np.sum(~constant & ~(np.isfinite(site_r_hat) & np.isfinite(site_bulk))))
        r_hats[site], bulks[site], tails[site] = site_r_hat, site_bulk, site_tail
    max_r_hat, worst_r_hat = _worst(r_hats, largest=True)
    min_bulk, worst_bulk = _worst(bulks, largest=False)
    min_tail, worst_tail = _worst(tails, largest=False)

    divergences = 0 if diverging is None else int(np.sum(diverging))
    min_bfmi = np.nan
    if energy is not None:
        min_bfmi = float(np.min(az.bfmi(np.asarray(energy, dtype=np.float64))))

    flags = []
    if undefined:
        flags.append(f"R-hat or ESS undefined for {undefined} quantities")
    if max_r_hat > r_hat_max:
        flags.append(f"R-hat {max_r_hat:.3f} > {r_hat_max:g} ({worst_r_hat})")
    if min_bulk < ess_min:
        flags.append(f"bulk ESS {min_bulk:.0f} < {ess_min:.0f} ({worst_bulk})")
    if min_tail < ess_min:
        flags.append(f"tail ESS {min_tail:.0f} < {ess_min:.0f} ({worst_tail})")
    if divergences:
        flags.append(f"{divergences} divergence{'s' if divergences != 1 else ''}")
    if min_bfmi < bfmi_min:
        flags.append(f"E-BFMI {min_bfmi:.2f} < {bfmi_min:g}")
    return Diagnostics(
        max_r_hat=max_r_hat,
        min_ess_bulk=min_bulk,
        min_ess_tail=min_tail,
        divergences=divergences,
        min_bfmi=min_bfmi,
        chains=int(chains),
        draws=int(samples),
        flags=tuple(flags),
        r_hat_max=float(r_hat_max),
        ess_min=float(ess_min),
        bfmi_min=float(bfmi_min),
    )


# ------------------------------------------------------------------------ PSIS-LOO


@dataclass(frozen=True)
class Loo:
    """PSIS-LOO of one model: totals, Pareto-k counts and the pointwise values.

    ``elpd`` = Σ elpd_i with standard error ``se`` = √(n var(elpd_i)); ``p_loo``
    the effective number of parameters; ``k_good``/``k_bad``/``k_very_bad`` count
    observations with k ≤ ``k_threshold``, k in (``k_threshold``, 1] and k > 1;
    ``exact`` counts those whose log-likelihood is constant to within the tolerance
    (elpd_i without importance sampling, k = 0).
    """

    elpd: float
    se: float
    p_loo: float
    n: int
    draws: int
    k_threshold: float
    k_good: int
    k_bad: int
    k_very_bad: int
    exact: int
    pointwise: np.ndarray  # (n,) elpd_i
    pareto_k: np.ndarray  # (n,)

    def as_dict(self) -> dict:
        """The summary without the pointwise arrays: elpd, se, p_loo, n and the k counts."""
        keep = ("elpd", "se", "p_loo", "n", "k_good", "k_bad", "k_very_bad")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in keep}


@dataclass(frozen=True)
class LooDifference:
    """elpd(a) − elpd(b) on the same observations, and its standard error."""

    elpd_diff: float
    se: float

    def __iter__(self):
        return iter((self.elpd_diff, self.se))


def _relative_efficiency(posterior: Mapping[str, np.ndarray], draws: int) -> float:
    """ArviZ's r_eff: the mean ESS ("mean" method) over every posterior element / draws."""
    dataset = az.convert_to_dataset({k: _as_chains(v) for k, v in posterior.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ess = az.ess(dataset, method="mean")
    values = np.hstack([ess[v].values.reshape(-1) for v in ess.data_vars])
    return float(np.nanmean(values) / draws)


#: Observations per block of :func:`psis_loo` (bounds its working memory; no effect on
#: the result, which is computed observation by observation).
LOO_BLOCK = 1024


def _pointwise_loo(log_lik: np.ndarray, reff: float, constant_tol: float):
    """elpd_i, Pareto k_i, lppd_i and the exact flags of a block (draws, n_block)."""
    draws, n = log_lik.shape
    pointwise = np.empty(n)
    pareto_k = np.zeros(n)
    exact = np.ptp(log_lik, axis=0) <= constant_tol
    # log mean_s exp(ℓ_s) = m + log1p(mean_s expm1(ℓ_s - m)), m = max_s ℓ_s: keeps
    # log-likelihoods of -1e-40 that log-sum-exp would round away against log(draws).
    top = log_lik.max(axis=0)
    lppd = top + np.log1p(np.mean(np.expm1(log_lik - top), axis=0))
    pointwise[exact] = lppd[exact]
    if np.any(~exact):
        data = az.from_dict(log_likelihood={"y": log_lik[None, :, ~exact]})
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", UserWarning)  # k above the threshold: counted
            warnings.simplefilter("ignore", RuntimeWarning)
            result = az.loo(data, pointwise=True, reff=reff)
        pointwise[~exact] = np.asarray(result["loo_i"].values, dtype=np.float64)
        pareto_k[~exact] = np.asarray(result["pareto_k"].values, dtype=np.float64)
    # ArviZ returns NaN for a few columns whose log-likelihood is almost 0 in every draw
    # (a worker predicted with near certainty; seen at ranges of 1e-26 to 2e-3). Their
    # importance weights 1/p are equal to within that range, so plain importance
    # sampling is exact enough and stable: elpd_i = −log mean_s exp(−log p(y_i | θ_s)).
    failed = ~np.isfinite(pointwise) & (np.ptp(log_lik, axis=0) <= NEARLY_CONSTANT_RANGE)
    pointwise[failed] = -(special.logsumexp(-log_lik[:, failed], axis=0) - np.log(draws))
    pareto_k[failed] = 0.0
    return pointwise, pareto_k, lppd, exact | failed


def psis_loo(
    log_lik,
    *,
    posterior: Mapping[str, np.ndarray] | None = None,
    reff: float | None = None,
    constant_tol: float = 1e-6,
    n: int | None = None,
    block: int = LOO_BLOCK,
) -> Loo:
    """PSIS-LOO from a pointwise log-likelihood shaped (chains, samples, n), in float64.

    ``reff`` (relative efficiency of the draws, which sets the length of the
    Pareto tail) is taken from ``posterior`` as ArviZ does when given, else 1.
    A column whose range over all draws is at most ``constant_tol`` gets
    elpd_i = log mean exp(log_lik) (exact to within that range) and k = 0.

    Each observation's elpd_i and k_i depend on its own column only, so the columns
    are processed ``block`` at a time: the working memory is that of one block, not
    several copies of the whole matrix. ``log_lik`` may also be a function
    ``(start, stop) -> (chains, samples, stop - start)`` giving the columns of
    observations start..stop-1, with ``n`` their number; then the whole matrix never
    exists (:func:`result_psis_loo`).
    """
    if callable(log_lik):
        if n is None:
            raise ValueError("psis_loo needs n, the number of observations, with a function")
        columns = log_lik
    else:
        array = np.asarray(log_lik, dtype=np.float64)
        if array.ndim != 3:
            raise ValueError("log_lik must be shaped (chains, samples, n)")
        n = array.shape[2]

        def columns(start, stop):
            return array[:, :, start:stop]

    pointwise, pareto_k, lppd, exact = (np.empty(n), np.empty(n), np.empty(n),
                                        np.empty(n, dtype=bool))
    draws = chains = None
    for start in range(0, n, block):
        stop = min(start + block, n)
        part = np.asarray(columns(start, stop), dtype=np.float64)
        if part.ndim != 3 or part.shape[2] != stop - start:
            raise ValueError("log_lik must be shaped (chains, samples, n)")
        if draws is None:
            chains, draws = part.shape[0], part.shape[0] * part.shape[1]
            if reff is None:
                reff = (1.0 if posterior is None or chains == 1
                        else _relative_efficiency(posterior, draws))
        (pointwise[start:stop], pareto_k[start:stop], lppd[start:stop],
         exact[start:stop]) = _pointwise_loo(part.reshape(draws, stop - start), reff,
                                             constant_tol)
    if not np.all(np.isfinite(pointwise)):
        raise FloatingPointError("PSIS-LOO gave a non-finite pointwise elpd")
    k_threshold = float(min(1.0 - 1.0 / np.log10(draws), 0.7))
    return Loo(
        elpd=float(pointwise.sum()),
        se=float(np.sqrt(n * np.var(pointwise))),
        p_loo=float(lppd.sum() - pointwise.sum()),
        n=int(n),
        draws=int(draws),
        k_threshold=k_threshold,
        k_good=int(np.sum(pareto_k <= k_threshold)),
        k_bad=int(np.sum((pareto_k > k_threshold) & (pareto_k <= 1.0))),
        k_very_bad=int(np.sum(pareto_k > 1.0)),
        exact=int(np.sum(exact)),
        pointwise=pointwise,
        pareto_k=pareto_k,
    )


def loo_difference(a: Loo, b: Loo) -> LooDifference:
    """elpd(a) − elpd(b) and its standard error √(n var(elpd_a,i − elpd_b,i)), as az.compare."""
    if a.n != b.n:
        raise ValueError(f"the models were scored on different observations ({a.n} vs {b.n})")
    diff = a.pointwise - b.pointwise
    return LooDifference(float(diff.sum()), float(np.sqrt(a.n * np.var(diff))))


def result_psis_loo(result: NUTSResult, site_x, worker_x, site_index, y, *,
                    block: int | None = None):
    """PSIS-LOO of a NUTS fit on these workers (:func:`psis_loo`), equal to
    ``psis_loo(result.log_likelihood(...), posterior=result.draws)`` but computed
    ``block`` workers at a time, so the (draws × workers) log-likelihood matrix never
    exists whole (4,000 draws × 13,068 workers are 418 MB in float64)."""
    from organizing.inference.nuts import release_memory

    site_index, y = np.asarray(site_index), np.asarray(y)

    def columns(start, stop):
        return result.log_likelihood(site_x, worker_x[start:stop], site_index[start:stop],
                                     y[start:stop])

    loo = psis_loo(columns, n=len(y), block=block or LOO_BLOCK, posterior=result.draws)
    release_memory()
    return loo
