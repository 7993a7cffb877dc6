"""Numbers and sentences for the book's prose, built from results.

Chapters put every data-dependent number or sentence in an inline
expression that calls this module, so running the book on another campaign
can never leave prose that contradicts its own tables. Counts are always
written with thousands separators.
"""

from __future__ import annotations

import pandas as pd


def count(n: float) -> str:
    """A whole number with thousands separators: ``16,335``."""
    return f"{round(float(n)):,}"


def share(x: float, decimals: int = 1) -> str:
    """A proportion as a percentage: ``17.2%``."""
    return f"{100 * x:.{decimals}f}%"


def number(x: float, decimals: int = 2) -> str:
    """A real number with fixed decimals and a true minus sign."""
    return f"{x:.{decimals}f}".replace("-", "−")


def interval(q5: float, q95: float, decimals: int = 2) -> str:
    """A 90% credible interval: ``(0.41 to 0.87)``."""
    return f"({number(q5, decimals)} to {number(q95, decimals)})"


def estimate(mean: float, q5: float, q95: float, decimals: int = 2) -> str:
    """A posterior mean with its 90% interval: ``0.64 (0.41 to 0.87)``."""
    return f"{number(mean, decimals)} {interval(q5, q95, decimals)}"


def ratio(a: float, b: float, decimals: int = 1) -> str:
    """How many times larger ``a`` is than ``b``: ``160×``."""
    return f"{a / b:,.{decimals}f}×"


# ---------------------------------------------------------------- data chapter


# -------------------------------------------------------------- methods chapter


def stopping_sentence(fits: dict, max_steps: int) -> str:
    """Which SVI fits met the convergence rule, and after how many steps."""
    met = {name: fit.steps for name, fit in fits.items() if fit.converged}
    n = len(fits)
    if len(met) == n:
        low, high = min(met.values()), max(met.values())
        steps = f"after {count(low)} steps" if low == high else (
            f"after {count(low)} to {count(high)} steps")
        return f"All {n} fits met the rule, {steps}."
    if not met:
        return (f"None of the {n} fits met the rule within the limit of {count(max_steps)} "
                "steps, so each is summarized where the limit stopped it.")
    stopped = ", ".join(name.replace("_", " ") for name in fits if name not in met)
    return (f"{len(met)} of the {n} fits met the rule, after {count(min(met.values()))} to "
            f"{count(max(met.values()))} steps; the limit of {count(max_steps)} steps "
            f"stopped the others ({stopped}).")


def mirrored(train, test, tol: float = 1e-6) -> bool:
    """Whether two vectors of column sums are exactly opposite (up to rounding)."""
    import numpy as np

    train, test = np.asarray(train, dtype=float), np.asarray(test, dtype=float)
    return bool(np.allclose(test, -train, rtol=0, atol=tol * max(np.abs(train).max(), 1.0)))


def sign_flip_sentence(audit) -> str:
    """What happens to the worksite intercepts of the published term at prediction time."""
    r = audit.sign_flip_correlation
    if mirrored(audit.train_projection, audit.test_projection):
        return (f"every worksite's learned intercept changes sign when it is applied to the "
                f"held-out workers (correlation {number(r)} across worksites)")
    if r < 0:
        return (f"the intercepts applied to held-out workers run against the learned ones "
                f"(correlation {number(r)} across worksites)")
    return (f"the intercepts applied to held-out workers differ from the learned ones "
            f"(correlation {number(r)} across worksites)")


def versus_chance(auc: float) -> str:
    """``worse than chance`` for an AUC below one half, ``better than chance`` above it."""
    if auc < 0.5:
        return "worse than chance"
    return "better than chance" if auc > 0.5 else "no better than chance"


def root_mean_square(values) -> float:
    """The root mean square of some values: the size of draws centered at zero."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    return float(np.sqrt(np.mean(values**2)))


def published_values(parameters):
    """The study's published values of some parameters (its shared-coefficients table)."""
    from organizing.data import published_reference

    shared = published_reference()["shared"].set_index("parameter")["published_value"]
    return shared.loc[list(parameters)].to_numpy(dtype=float)


def prior_like_sentence(worksite, site_features) -> str:
    """How close the worksite coefficients of a fit are to their prior: centred and spread."""
    frame = worksite.set_index("feature")
    coefficients = frame.loc[list(site_features)]
    scale = frame.loc["beta_group_scale"]
    return (
        f"their posterior means lie between {number(coefficients['mean'].min())} and "
        f"{number(coefficients['mean'].max())}, and their posterior standard deviations "
        f"between {number(coefficients['sd'].min())} and {number(coefficients['sd'].max())}, "
        f"against a posterior mean of {number(scale['mean'])} for the prior scale τ_β"
    )


def projection_norm(audit) -> float:
    """The length of Σ_j z_j over the training workers."""
    import numpy as np

    return float(np.linalg.norm(audit.train_projection))


def scientific(x: float, digits: int = 1) -> str:
    """A tiny or huge number in powers of ten: ``1.3 × 10⁻¹³`` (``0`` for exactly zero)."""
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    superscript = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa.replace('-', '−')} × 10{superscript}"


# -------------------------------------------------------------- results chapter


def _results_by_model(frame):
    return frame.set_index("model")


def above_below(a: float, b: float) -> str:
    """``"above"`` when ``a`` exceeds ``b``, else ``"below"`` (``"equal to"`` on a tie)."""
    return "above" if a > b else "below" if a < b else "equal to"


def model_comparison(metrics, first: str = "corrected", second: str = "extended",
                     tolerance: float = 0.001) -> str:
    """Which of two models fits the held-out workers better, judged by log loss.

    Log loss is a proper scoring rule for probabilities; AUC, which only ranks
    workers, is quoted beside it and flagged when it points the other way.
    """
    m = _results_by_model(metrics)
    a, b = m.loc[first], m.loc[second]
    if abs(a["log_loss"] - b["log_loss"]) < tolerance:
        return (f"The {first} and {second} models fit the held-out workers about equally well: "
                f"log loss {number(a['log_loss'], 3)} against {number(b['log_loss'], 3)}, "
                f"AUC {number(a['auc'], 3)} against {number(b['auc'], 3)}.")
    better, worse = (first, second) if a["log_loss"] < b["log_loss"] else (second, first)
    good, bad = m.loc[better], m.loc[worse]
    if good["auc"] >= bad["auc"]:
        auc = (f"and it also ranks signers above non-signers more often "
               f"(AUC {number(good['auc'], 3)} against {number(bad['auc'], 3)})")
    else:
        auc = (f"although it ranks signers above non-signers slightly less often "
               f"(AUC {number(good['auc'], 3)} against {number(bad['auc'], 3)})")
    return (f"The {better} model fits the held-out workers better than the {worse} model: "
            f"its log loss is {number(good['log_loss'], 3)} against "
            f"{number(bad['log_loss'], 3)}, {auc}.")


def signed_effects(frame, label: str = "feature", low: str = "q5", high: str = "q95") -> str:
    """The features whose 90% interval excludes zero, positive ones first."""
    positive = list(frame.loc[frame[low] > 0, label])
    negative = list(frame.loc[frame[high] < 0, label])
    if not positive and not negative:
        return "no feature has a 90% interval that excludes zero"
    parts = []
    if positive:
        parts.append(f"{_results_join(positive)} (positive)")
    if negative:
        parts.append(f"{_results_join(negative)} (negative)")
    n = len(positive) + len(negative)
    feature = "feature has" if n == 1 else "features have"
    return f"{n} {feature} a 90% interval that excludes zero: " + "; ".join(parts)


def signed_worksite_effects(worksite, site_features) -> str:
    """:func:`signed_effects` over the worksite-feature rows only (no α, no scales)."""
    return signed_effects(worksite[worksite["feature"].isin(list(site_features))])


def _results_join(names: list[str]) -> str:
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def largest_worker_effect(worker) -> str:
    """The worker feature with the largest average coefficient in absolute value."""
    row = worker.loc[worker["mean"].abs().idxmax()]
    return (f"{row['feature']}, with an average of "
            f"{estimate(row['mean'], row['q5'], row['q95'])} log-odds per standard deviation, "
            f"positive at {share(row['share_positive'], 0)} of worksites")


def _width_ratio(nuts_worksite, mean_field_worksite, site_features) -> float:
    features = list(site_features)
    a = nuts_worksite.set_index("feature").loc[features]
    b = mean_field_worksite.set_index("feature").loc[features]
    return float(((a["q95"] - a["q5"]) / (b["q95"] - b["q5"])).median())


def interval_width_ratio(nuts_worksite, mean_field_worksite, site_features) -> str:
    """Median over worksite coefficients of (NUTS 90% width) / (mean-field 90% width)."""
    return f"{_width_ratio(nuts_worksite, mean_field_worksite, site_features):,.1f}×"


def wider_or_narrower(nuts_worksite, mean_field_worksite, site_features) -> str:
    """``wider`` when NUTS intervals are wider than mean-field ones (median), else ``narrower``."""
    ratio = _width_ratio(nuts_worksite, mean_field_worksite, site_features)
    return "wider" if ratio > 1 else "narrower"


def fold_comparison(folds, first: str = "corrected", second: str = "pooled logistic",
                    metric: str = "auc") -> str:
    """Mean over held-out-worksite folds of one metric for two models, with a verdict."""
    means = folds.groupby("model")[metric].mean()
    a, b = means[first], means[second]
    higher_better = metric in ("auc", "accuracy")
    if abs(a - b) < 0.005:
        verdict = "about the same as"
    elif (a > b) == higher_better:
        verdict = "better than"
    else:
        verdict = "worse than"
    return (f"the {first} model's mean {metric.upper() if metric == 'auc' else metric} over "
            f"folds is {number(a, 3)}, {verdict} the {second} model's {number(b, 3)}")


def best_fold_model(folds, metric: str = "log_loss") -> str:
    """The model with the best mean of ``metric`` over folds (lowest loss, highest AUC)."""
    means = folds.groupby("model")[metric].mean()
    return str(means.idxmax() if metric in ("auc", "accuracy") else means.idxmin())


def ppc_verdict(ppc, nominal: float = 0.9, slack: float = 0.05) -> str:
    """How the share of worksites inside their 90% predictive interval compares with 90%."""
    inside = float(ppc["inside"].mean())
    if inside < nominal - slack:
        return ("below the nominal 90%: the model is more confident about worksite signing "
                "rates than the held-out workers justify")
    if inside > nominal + slack:
        return ("above the nominal 90%: the intervals are generous, as expected when a "
                "worksite has only a handful of held-out workers")
    return "close to the nominal 90%: the model's uncertainty about worksite rates is about right"


def scale_ratio(scales, parameter: str, numerator: str = "NUTS",
                denominator: str = "mean-field") -> str:
    """Ratio of posterior means of one scale parameter under two methods: ``1.5×``."""
    s = scales.set_index(["method", "parameter"])["mean"]
    return ratio(float(s[(numerator, parameter)]), float(s[(denominator, parameter)]), 2)


def nuts_verdict(nuts: dict, r_hat_limit: float = 1.01, ess_floor: float = 400) -> str:
    """Whether the NUTS run passes the usual convergence checks, in one sentence."""
    problems = []
    if nuts["max_r_hat"] > r_hat_limit:
        problems.append(f"the largest R̂ is {number(nuts['max_r_hat'], 3)}, above "
                        f"{r_hat_limit:g}")
    if nuts["min_ess"] < ess_floor:
        problems.append(f"the smallest effective sample size is {count(nuts['min_ess'])}, "
                        f"below {ess_floor:g}")
    if nuts["divergences"] > 0:
        n = int(nuts["divergences"])
        problems.append(f"{count(n)} transition{'s' if n != 1 else ''} diverged")
    if not problems:
        return (f"The chains pass the usual checks: the largest R̂ is "
                f"{number(nuts['max_r_hat'], 3)}, the smallest effective sample size is "
                f"{count(nuts['min_ess'])} and no transition diverged, so the NUTS posterior "
                f"serves as the reference.")
    return ("Treat the NUTS figures of this run as rough: " + "; ".join(problems)
            + ". A longer run is needed before their second decimal is trusted.")


# ----------------------------------------------------------- clustering chapter

_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def setting(x: float) -> str:
    """A positive setting such as σ: ``10⁻⁴``, ``2.5 × 10⁻³``, or 3 significant digits."""
    if not 0 < x < 0.01:
        return f"{x:.3g}".replace("-", "−")
    mantissa, exponent = f"{x:.2e}".split("e")
    power = "10" + str(int(exponent)).translate(_SUPERSCRIPTS)
    mantissa = f"{float(mantissa):.2g}"
    return power if mantissa == "1" else f"{mantissa} × {power}"


def log_density(x: float) -> str:
    """A log density or log joint: thousands separators, a decimal only below 1,000."""
    decimals = 1 if abs(x) < 1000 else 0
    return f"{x:,.{decimals}f}".replace("-", "−")


def coefficient_scale(vectors) -> float:
    """Pooled standard deviation of coefficient vectors (n, d), each column centred."""
    frame = pd.DataFrame(vectors, dtype=float)
    centred = frame - frame.mean()
    return float((centred**2).to_numpy().mean() ** 0.5)


def clusters_found(K: int) -> str:
    """What the chosen number of components says about clusters."""
    if K == 1:
        return ("a single component: the held-out worksites give no support for dividing the "
                "worksites into distinct clusters")
    return f"{K} components: the held-out worksites support {K} distinct clusters"


def grid_edge(table, sigma: float) -> str:
    """A warning when the chosen σ is the largest or smallest value tried, else ``""``."""
    sigmas = table["sigma"]
    if sigma >= sigmas.max():
        return ("The chosen σ is the largest value on the grid, so a larger one might score "
                "better still.")
    if sigma <= sigmas.min():
        return ("The chosen σ is the smallest value on the grid, so a smaller one might score "
                "better still.")
    return ""


def sklearn_agreement(ari: float, K: int) -> str:
    """The adjusted Rand index between the Gibbs clusters and scikit-learn's, in words."""
    if K == 1:
        return (f"with a single component both methods put every worksite in one cluster, "
                f"so their agreement (adjusted Rand index {number(ari)}) is automatic")
    quality = ("close" if ari >= 0.8 else "partial" if ari >= 0.4 else "poor")
    return f"the agreement is {quality} (adjusted Rand index {number(ari)})"


def probability(p: float) -> str:
    """A posterior probability as a percentage, never a bare 0% or 100% from finite draws."""
    if p > 0.995:
        return "more than 99%"
    if p < 0.005:
        return "less than 1%"
    return share(p, 0)


def gibbs_mixing(samples, burn_in: int) -> str:
    """Whether the Gibbs chains still move worksites between clusters after burn-in."""
    z = samples.z[:, burn_in:]
    moves = int((z[:, 1:] != z[:, :-1]).sum())
    if moves:
        return (f"after burn-in the chains still move worksites between clusters "
                f"({count(moves)} reassignments), as a mixing sampler should")
    ends = samples.log_joint[:, -1]
    spread = float(ends.max() - ends.min())
    different = (f"; the chains end at log joints up to {log_density(spread)} apart, each "
                 f"stuck where its first sweeps put it" if spread > 1 else "")
    return f"after burn-in no worksite ever changes cluster in any chain{different}"


def flawed_score(flawed) -> str:
    """What the study's per-point held-out values are made of."""
    values = flawed.per_point
    m = len(values)
    if float(values.max() - values.min()) <= 1e-6 * max(abs(float(values.mean())), 1.0):
        return (f"each of the {count(m)} held-out worksites receives the same value, "
                f"{log_density(float(values.mean()))}: the log prior density of the last "
                f"draw, which does not depend on the held-out worksite at all")
    return (f"the {count(m)} per-worksite values range from "
            f"{log_density(float(values.min()))} to {log_density(float(values.max()))}, "
            f"each including the same log prior density of the last draw")


def _prob_positive(draws) -> float:
    values = pd.Series(draws, dtype=float).dropna()
    return float((values > 0).mean())


def association_direction(draws) -> str:
    """Which way the posterior of a correlation points, and how firmly."""
    p = _prob_positive(draws)
    if p >= 0.95:
        return "is clearly positive"
    if p >= 0.8:
        return "leans positive without settling the sign"
    if p > 0.2:
        return "has no clear sign"
    if p > 0.05:
        return "leans negative without settling the sign"
    return "is clearly negative"


def association_sentence(draws, label: str) -> str:
    """The direction, mean, 90% interval and P(positive) of a correlation's posterior."""
    values = pd.Series(draws, dtype=float).dropna()
    q5, q95 = values.quantile([0.05, 0.95])
    return (
        f"for {label}, the correlation {association_direction(values)}: posterior mean "
        f"{number(values.mean())}, 90% interval {interval(q5, q95)}, and a posterior "
        f"probability of {probability(_prob_positive(values))} that it is positive"
    )


def association_verdict(notes, early) -> str:
    """Whether the two correlations bear out the study's larger-worksites claim."""
    positive = [_prob_positive(d) >= 0.95 for d in (notes, early)]
    negative = [_prob_positive(d) <= 0.05 for d in (notes, early)]
    if all(positive):
        return "point the way the study claimed, for both measures of attention"
    if any(negative):
        return "point away from the study's claim for at least one measure of attention"
    if any(positive):
        return "point the way the study claimed for one measure of attention but not the other"
    return "do not settle the direction for either measure of attention"


def heldout_at(table, sigma: float, K: int) -> float:
    """The held-out log predictive density of the fit at (σ, K) in a selection table."""
    rows = table[((table["sigma"] - sigma).abs() <= 1e-9 * sigma) & (table["K"] == K)]
    if len(rows) != 1:
        raise KeyError(f"no single fit at sigma={sigma}, K={K}")
    return float(rows["heldout_lpd"].iloc[0])


def second_component(table, selection: dict) -> str:
    """When one component is chosen: how the best two-component fit compares; else ``""``."""
    if selection["K"] != 1:
        return ""
    two = table[table["K"] == 2]
    if two.empty:
        return ""
    best = two.loc[two["heldout_lpd"].idxmax()]
    gain = float(best["heldout_lpd"]) - selection["heldout_lpd"]
    margin = float(table.loc[table["heldout_lpd"].idxmax(), "heldout_lpd_se"])
    direction = "higher" if gain > 0 else "lower"
    return (f"The best two-component fit (σ = {setting(float(best['sigma']))}) scores "
            f"{log_density(float(best['heldout_lpd']))}, {log_density(abs(gain))} {direction} "
            f"than the chosen single component, where the rule's margin of one standard "
            f"error is {log_density(margin)}.")


def largest_cluster_mean(frame) -> str:
    """The cluster mean farthest from zero, with its 90% interval."""
    row = frame.loc[frame["mean"].abs().idxmax()]
    where = f" in cluster {int(row['cluster']) + 1}" if frame["cluster"].nunique() > 1 else ""
    return f"{row['feature']}{where}, {estimate(row['mean'], row['lower'], row['upper'])}"


def coassignment_summary(matrix, modal) -> str:
    """How often worksites with the same, and with different, modal clusters share a cluster."""
    index = pd.RangeIndex(len(modal)).to_numpy()
    pairs = index[:, None] != index[None, :]
    same = (modal[:, None] == modal[None, :]) & pairs
    different = (modal[:, None] != modal[None, :]) & pairs
    within = float(matrix[same].mean())
    if not different.any():
        if within > 0.999:
            return ("every pair of worksites shares the single cluster in every draw, so the "
                    "matrix is uniform and carries no grouping")
        return (f"all worksites have the same most probable cluster, and two worksites share "
                f"a cluster in {share(within, 0)} of draws on average")
    between = float(matrix[different].mean())
    return (f"two worksites with the same most probable cluster share a cluster in "
            f"{share(within, 0)} of draws on average, two with different ones in "
            f"{share(between, 0)}")


# ---------------------------------------------------------- conclusions chapter

VERDICT_WORDS = {
    "supported": "supported by",
    "not supported": "not supported by",
    "reversed": "reversed by",
}


def compared(a: float, b: float, *, higher_is_better: bool = True) -> str:
    """``better``, ``worse`` or ``as well`` for a score ``a`` against ``b``."""
    if a == b:
        return "as well"
    return "better" if (a > b) == higher_is_better else "worse"


def claim_row(claims, starts_with: str):
    """The row of the claims table whose claim starts with ``starts_with``."""
    matches = claims[claims["claim"].str.startswith(starts_with)]
    if len(matches) != 1:
        raise KeyError(f"expected one claim starting with {starts_with!r}, found {len(matches)}")
    return matches.iloc[0]


def claim_status(claims, starts_with: str) -> str:
    """``is supported by`` / ``is not supported by`` / ``is reversed by``."""
    return "is " + VERDICT_WORDS[claim_row(claims, starts_with)["verdict"]]


def claim_evidence(claims, starts_with: str, decimals: int = 2) -> str:
    """The quantity behind a verdict with its 90% interval."""
    row = claim_row(claims, starts_with)
    return f"{row['quantity']}: {estimate(row['mean'], row['q5'], row['q95'], decimals)}"


def strongest_worker_features(worker: pd.DataFrame, n: int = 2) -> str:
    """The ``n`` worker features with the largest average |coefficient|, in words."""
    order = worker.assign(size=worker["mean"].abs()).sort_values("size", ascending=False)
    parts = [
        f"{row['feature']} ({'positive' if row['mean'] > 0 else 'negative'}, "
        f"{estimate(row['mean'], row['q5'], row['q95'])})"
        for _, row in order.head(n).iterrows()
    ]
    return " and ".join(parts)


def signal_sentence(claims) -> str:
    """Which part of the logit varies more across workers, from the claims table."""
    row = claim_row(claims, "Worksite features")
    if row["verdict"] == "reversed":
        return "The worker-level terms vary more across workers than the worksite terms do"
    if row["verdict"] == "supported":
        return "The worksite terms vary more across workers than the worker-level terms do"
    return "Neither the worker-level nor the worksite terms clearly dominate"


def intervals_including_zero(table, features) -> str:
    """``k of n`` coefficients of ``features`` whose 90% interval includes zero."""
    rows = table[table["feature"].isin(list(features))]
    k = int(((rows["q5"] < 0) & (rows["q95"] > 0)).sum())
    return f"{k} of {len(rows)}"


def scale_direction(scales, parameter: str) -> str:
    """``understates`` or ``overstates``: mean-field against NUTS for one scale."""
    means = scales[scales["parameter"] == parameter].set_index("method")["mean"]
    return "understates" if means["mean-field"] < means["NUTS"] else "overstates"


def verdict_counts(claims) -> str:
    """``2 are supported, 6 are not supported and 1 is reversed``."""
    counts = claims["verdict"].value_counts()
    parts = []
    for verdict in ("supported", "not supported", "reversed"):
        k = int(counts.get(verdict, 0))
        parts.append(f"{count(k)} {'is' if k == 1 else 'are'} {verdict}")
    return f"{parts[0]}, {parts[1]} and {parts[2]}"


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def feature_claims_sentence(claims) -> str:
    """The single-feature conclusions grouped by verdict, in one or more sentences."""
    rows = claims[claims["quantity"].str.startswith("coefficient of")]
    sentences = []
    for verdict in ("supported", "not supported", "reversed"):
        group = rows[rows["verdict"] == verdict]
        if group.empty:
            continue
        names = [f"{row['claim'][0].lower()}{row['claim'][1:]} "
                 f"({estimate(row['mean'], row['q5'], row['q95'])})"
                 for _, row in group.iterrows()]
        verb = "is" if len(names) == 1 else "are"
        sentences.append(f"That {_listing(names)} {verb} {verdict} by the corrected analysis.")
    return " ".join(sentences)
