"""The headline figures as strict JSON (``organizing summary --json``) and as text.

Keys are stable; the README documents each one. A metric that is undefined
(for example an AUC on held-out workers of one class) is ``null``, with a
``<metric>_undefined`` key saying why; the output never holds NaN or Infinity.
"""

from __future__ import annotations

import math

from organizing.models import BASELINES, HEADLINE_MODEL, ModelId
from organizing.results.sections import Results

UNDEFINED_REASON = "undefined: the held-out outcomes contain a single class"


def _number(value, digits: int = 4):
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _interval(value) -> dict:
    """An interval as the summary has always printed it: mean, q5 and q95 (90%)."""
    return {"mean": _number(value.mean), "q5": _number(value.lower),
            "q95": _number(value.upper)}


def _metrics(row, names) -> dict:
    out = {}
    for name in names:
        out[name] = _number(row[name])
        if out[name] is None:
            out[f"{name}_undefined"] = UNDEFINED_REASON
    return out


#: Verdicts of a claim that was put to the data.
TESTED = ("supported", "inconclusive", "contradicted", "not identified")


def claims_summary(claims) -> tuple[list[dict], list[dict]]:
    """The ``claims`` and ``claims_not_tested`` entries of the summary.

    ``claims``: one entry per claim put to the data under the headline model (id, claim,
    source, feature (the quantity tested), verdict, prob_claimed (the posterior
    probability of the claimed sign; null where undefined), identification (posterior sd
    over the reference sd; null for held-out measurements), test (the id of the claim
    whose test it shares), follows (the finding a recommendation follows from, or ""),
    verdict_by_model); ``claims_not_tested``: the others (id, claim, source, verdict
    "not testable" or "not evaluated", reason).
    """
    verdicts = claims.by_model.pivot(index="id", columns="model", values="verdict")
    tested, not_tested = [], []
    for row in claims.table.itertuples():
        if row.verdict in TESTED:
            tested.append({"id": row.id, "claim": row.claim, "source": row.source,
                           "feature": row.quantity, "verdict": row.verdict,
                           "prob_claimed": _number(row.prob_claimed),
                           "identification": _number(row.identification),
                           "test": row.test, "follows": row.follows,
                           "verdict_by_model": verdicts.loc[row.id].to_dict()})
        else:
            not_tested.append({"id": row.id, "claim": row.claim, "source": row.source,
                               "verdict": row.verdict, "reason": row.reason})
    return tested, not_tested


def effects_summary(claims) -> list[dict]:
    """The ``effects`` entries: per feature, its move in its own units and the average
    change in the chance of signing over the campaign's workers (percentage points)."""
    from organizing.report.effect_sizes import move_words

    out = []
    for _, row in claims.effects.iterrows():
        out.append({"feature": row["feature"], "level": row["level"],
                    "move": move_words(row), "move_kind": row["kind"],
                    "from": _number(row["start"]), "to": _number(row["end"]),
                    "average_change_points": {"mean": _number(row["mean"], 2),
                                              "q5": _number(row["q5"], 2),
                                              "q95": _number(row["q95"], 2)},
                    "across_stores_points": {"q5": _number(row["store_q5"], 2),
                                             "q95": _number(row["store_q95"], 2)},
                    "prob_positive": _number(row["prob_positive"]),
                    "robust": bool(row.get("robust", False)),
                    "fragile_under": row.get("fragile_under", "")})
    return out


def summary(results: Results) -> dict:
    """Every headline figure as a JSON-safe dict (keys documented in the README)."""
    evaluation = results.evaluation
    metrics = evaluation.metrics.set_index("model")

    folds = evaluation.fold_means()[["auc", "log_loss"]]
    models = {}
    for model in ModelId:
        entry = {}
        if model.value in metrics.index:
            entry["heldout"] = _metrics(metrics.loc[model.value],
                                        ("accuracy", "auc", "brier", "log_loss", "ece"))
        if model.value in folds.index:
            entry["heldout_worksites"] = _metrics(folds.loc[model.value], ("auc", "log_loss"))
        posterior = results.posteriors.get(model)
        if posterior is not None and posterior.loo is not None:
            entry["loo"] = {"elpd": _number(posterior.loo.elpd, 2),
                            "se": _number(posterior.loo.se, 2),
                            "pareto_k_above_0_7": posterior.loo.k_bad + posterior.loo.k_very_bad}
        if posterior is not None and posterior.diagnostics is not None:
            d = posterior.diagnostics
            entry["diagnostics"] = {"max_r_hat": _number(d.max_r_hat),
                                    "min_ess_bulk": _number(d.min_ess_bulk, 1),
                                    "min_ess_tail": _number(d.min_ess_tail, 1),
                                    "divergences": d.divergences, "flags": list(d.flags)}
        if model in evaluation.fit_seconds:
            entry["fit_seconds"] = _number(evaluation.fit_seconds[model], 2)
        if entry:
            entry["baseline"] = model in BASELINES
            models[model.value] = entry
    headline = results.posteriors[HEADLINE_MODEL].coefficients

    def coefficients(frame):
        return {row.feature: {"mean": _number(row.mean), "q5": _number(row.q5),
                              "q95": _number(row.q95)} for row in frame.itertuples()}

    claims, not_tested = claims_summary(results.claims)
    data = results.data
    clustering = {name: {"K": run.K, "sigma": _number(run.sigma, 8), "verdict": run.verdict,
                         "heldout_lpd": _number(run.heldout_lpd, 3)}
                  for name, run in results.clustering.runs.items()}
    test = results.clustering.test
    clustering["headline"] = {
        "K": test.chosen_K, "verdict": test.verdict,
        "two_clusters_difference": _number(test.two_difference, 3),
        "two_clusters_se": _number(test.two_difference_se, 3),
        "heldout_difference": _number(test.difference, 3),
        "heldout_difference_se": _number(test.difference_se, 3),
        "one_cluster": test.one_cluster}
    rates = results.error_rates.summary
    planning = results.planning
    return {
        "data": {"n_workers": data.n_workers, "n_sites": data.n_sites,
                 "signing_rate": _number(data.signing_rate)},
        "models": models,
        "headline": {
            "model": HEADLINE_MODEL.value,
            "coefficients": {"worksite": coefficients(headline.worksite),
                             "worker_mean": coefficients(headline.worker)},
        },
        "claims": claims,
        "claims_not_tested": not_tested,
        "verdict_counts": results.claims.verdict_counts,
        "effects": effects_summary(results.claims),
        "clustering": clustering,
        "error_rates": {key: (int(value) if key.endswith("campaigns") else _number(value))
                        for key, value in rates.items()},
        "planning": {"icc": _interval(planning.icc),
                     "latent_icc": _interval(planning.latent_icc),
                     "design_effect": _interval(planning.design_effect),
                     "workers_per_site": {k: _number(v) for k, v in planning.sizes.items()},
                     "baseline_rate": _number(planning.baseline_rate),
                     "baseline_rate_workers": _number(planning.baseline_rate_workers)},
        "meta": {"profile": results.meta.profile,
                 "package_version": results.meta.package_version,
                 "cache_key": results.meta.cache_key},
    }


def summary_text(results: Results) -> str:
    """The same figures, readable."""
    s = summary(results)
    lines = [f"{s['data']['n_workers']:,} workers at {s['data']['n_sites']} worksites; "
             f"signing rate {s['data']['signing_rate']:.3f}"]
    lines.append("Held-out workers (study's split) and held-out worksites:")
    for name, entry in s["models"].items():
        held, sites = entry.get("heldout", {}), entry.get("heldout_worksites", {})
        parts = [f"  {name:<22}"]
        for label, value in (("AUC", held.get("auc")), ("ECE", held.get("ece")),
                             ("log loss", held.get("log_loss")),
                             ("new-worksite AUC", sites.get("auc"))):
            if label in ("AUC", "ECE", "log loss") and not held:
                continue
            if label == "new-worksite AUC" and not sites:
                continue
            parts.append(f"{label} " + ("undefined" if value is None else f"{value:.3f}"))
        if "loo" in entry:
            parts.append(f"LOO elpd {entry['loo']['elpd']:,.1f} ± {entry['loo']['se']:.1f}")
        if entry.get("diagnostics", {}).get("flags"):
            parts.append("FLAGGED: " + "; ".join(entry["diagnostics"]["flags"]))
        lines.append("  ".join(parts))
    undefined = [k for e in s["models"].values() for part in e.values() if isinstance(part, dict)
                 for k in part if k.endswith("_undefined")]
    if undefined:
        lines.append(f"Some metrics are undefined: {UNDEFINED_REASON}.")
    lines.append(f"Effects ({s['headline']['model']} model): the average change in the chance "
                 "of signing over the campaign's workers, in percentage points, with its 90% "
                 "interval and the range across stores; P(+) is the posterior probability "
                 "that the change is positive:")
    for e in s["effects"]:
        change, stores = e["average_change_points"], e["across_stores_points"]
        fragile = "" if e["robust"] else f"  [fragile: {e['fragile_under']}]"
        lines.append(f"  {e['feature']}: {e['move']}: {change['mean']:+.1f} "
                     f"({change['q5']:+.1f} to {change['q95']:+.1f}; stores "
                     f"{stores['q5']:+.1f} to {stores['q95']:+.1f}), P(+) "
                     f"{e['prob_positive']:.2f}{fragile}")
    counts = s["verdict_counts"]
    lines.append(f"Verdicts on the study's claims ({s['headline']['model']} model; "
                 f"{sum(counts.values())} distinct tests: "
                 + ", ".join(f"{v} {k}" for k, v in counts.items()) + "; P is the posterior "
                 "probability of the claimed sign, not a p-value):")
    lines.extend(f"  {c['verdict']:<15} {c['claim']} (P = "
                 + ("undefined" if c["prob_claimed"] is None else f"{c['prob_claimed']:.2f}")
                 + (f"; follows from {c['follows']}" if c["follows"] else "")
                 + ")" for c in s["claims"])
    lines.extend(f"  {c['verdict']:<15} {c['claim']}" for c in s["claims_not_tested"])
    rates = s["error_rates"]
    lines.append(f"On {rates['null_campaigns']} simulated campaigns with no real effects, the "
                 f"rule gave {rates['false_verdicts_mean']} decisive verdicts per campaign.")
    for name, c in s["clustering"].items():
        if name == "headline":  # the calibrated test: a held-out comparison, no sigma
            lines.append(f"Clustering of the headline model's slopes: {c['verdict']} "
                         f"(K = {c['K']} chosen by cross-validation; two clusters against "
                         f"one on held-out worksites: {c['two_clusters_difference']:+.2f}, "
                         f"se {c['two_clusters_se']:.2f})")
        else:
            lines.append(f"Clustering of the {name} coefficient vectors: {c['verdict']} "
                         f"(K = {c['K']}, sigma {c['sigma']:.3g})")
    return "\n".join(lines)
