"""Tables of the book: sensitivity analyses."""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT, loc, style

from organizing.models import HEADLINE_MODEL, ModelId
from organizing.report import labels
from organizing.report.formatting import (
    COEFFICIENT_DECIMALS,
)
from organizing.report.tables.style import house_style, interval, new_table

#: How a verdict that differs from the headline model's is marked in the tables.
CHANGED_MARK = "▲"
CHANGED_FILL = "#fff2cc"


def sensitivity_verdicts(results) -> GT:
    """Each claim's verdict (with P(as claimed)) under the headline model and under each
    sensitivity analysis; a verdict that differs from the headline's is marked and filled."""
    from organizing.report.formatting import probability
    from organizing.report.labels import sensitivity_label

    verdicts = results.sensitivity.verdicts
    variants = list(dict.fromkeys(verdicts["variant"]))
    claims_order = list(dict.fromkeys(verdicts["claim"]))

    def cell(verdict: str, prob: float, changed: bool = False) -> str:
        text = verdict if not np.isfinite(prob) else f"{verdict} ({probability(prob)})"
        return f"{CHANGED_MARK} {text}" if changed else text

    first = verdicts.drop_duplicates("claim").set_index("claim")
    frame = pd.DataFrame({"claim": claims_order})
    frame["headline"] = [cell(first.loc[c, "headline_verdict"], first.loc[c, "headline_prob"])
                         for c in claims_order]
    for variant in variants:
        rows = verdicts[verdicts["variant"] == variant].set_index("claim")
        frame[variant] = [cell(rows.loc[c, "verdict"], rows.loc[c, "prob_claimed"],
                               bool(rows.loc[c, "changed"])) for c in claims_order]
    table = new_table(frame).cols_label(
        claim="Published conclusion", headline="Headline model",
        **{v: sensitivity_label(v).capitalize() for v in variants})
    for column in ["headline", *variants]:
        for verdict, (_, colour) in labels.VERDICTS.items():
            rows = frame.index[frame[column].str.startswith(verdict)].tolist()
            if rows:
                table = table.tab_style(style=style.fill(color=colour),
                                        locations=loc.body(columns=column, rows=rows))
    for variant in variants:
        rows = frame.index[frame[variant].str.startswith(CHANGED_MARK)].tolist()
        if rows:
            table = table.tab_style(style=[style.fill(color=CHANGED_FILL),
                                           style.text(weight="bold")],
                                    locations=loc.body(columns=variant, rows=rows))
    return table.tab_spanner("Sensitivity analyses", columns=variants).pipe(house_style)


def sensitivity_table(results) -> GT:
    """One row per sensitivity analysis against the headline model: the workers it was
    fitted on, its convergence checks, the verdicts it changes and the coefficients that
    move (headline estimate → the analysis's)."""
    from organizing.report.formatting import estimate
    from organizing.report.labels import sensitivity_label

    sensitivity = results.sensitivity
    verdicts, coefficients = sensitivity.verdicts, sensitivity.coefficients
    rows = []
    for variant, run in sensitivity.runs.items():
        changed = verdicts[(verdicts["variant"] == variant) & verdicts["changed"]]
        moved = coefficients[(coefficients["variant"] == variant) & coefficients["moved"]]
        rows.append({
            "variant": sensitivity_label(variant).capitalize(),
            "workers": run.n_workers,
            "checks": "pass" if run.diagnostics.ok else "; ".join(run.diagnostics.flags),
            "verdicts": "; ".join(f"{CHANGED_MARK} {r['claim']}: {r['headline_verdict']} → "
                                  f"{r['verdict']}" for _, r in changed.iterrows()) or "none",
            "coefficients": "; ".join(
                f"{r['feature']}: "
                f"{estimate(r['headline_mean'], r['headline_q5'], r['headline_q95'])} → "
                f"{estimate(r['mean'], r['q5'], r['q95'])}" for _, r in moved.iterrows())
            or "none",
        })
    frame = pd.DataFrame(rows, columns=["variant", "workers", "checks", "verdicts",
                                        "coefficients"])
    return (
        new_table(frame, rowname_col="variant")
        .cols_label(workers="Workers fitted", checks="Convergence checks",
                    verdicts="Verdicts that change", coefficients="Coefficients that move")
        .fmt_integer(columns="workers")
        .pipe(house_style)
    )


def heldout_elpd(evaluation) -> GT:
    """Log predictive density on the held-out workers and each model's paired difference
    from the headline model (:func:`organizing.evaluation.heldout_elpd`)."""
    frame = evaluation.heldout_elpd.copy()
    order = labels.model_order(ModelId(m) for m in frame["model"])
    frame = frame.set_index("model").loc[[m.value for m in order]].reset_index()
    frame["model"] = [labels.model_label(ModelId(m)).capitalize() for m in frame["model"]]
    return (
        new_table(frame, rowname_col="model")
        .cols_label(elpd="elpd", elpd_diff="Difference from the headline model",
                    se_diff="Its standard error")
        .fmt_number(columns=["elpd", "elpd_diff", "se_diff"], decimals=1)
        .pipe(house_style)
    )


def other_models(posteriors) -> GT:
    """The corrected, extended and headline models' worksite coefficients, average worker
    slopes and their spread across worksites, side by side."""
    models = [m for m in (ModelId.CORRECTED, ModelId.EXTENDED, HEADLINE_MODEL)
              if m in posteriors]
    pieces = []
    for model in models:
        c = posteriors[model].coefficients
        worksite = c.worksite.assign(part="Worksite coefficient")[["part", "feature", "mean",
                                                                    "q5", "q95"]]
        worker = c.worker.assign(part="Average worker slope")[["part", "feature", "mean",
                                                              "q5", "q95"]]
        spread = c.worker.assign(part="Spread of the slope between worksites")[[
            "part", "feature", "spread", "spread_q5", "spread_q95"]].rename(
            columns={"spread": "mean", "spread_q5": "q5", "spread_q95": "q95"})
        for frame in (worksite, worker, spread):
            pieces.append(frame.assign(model=model.value))
    long = pd.concat(pieces, ignore_index=True)
    wide = long.pivot_table(index=["part", "feature"], columns="model",
                            values=["mean", "q5", "q95"], sort=False)
    wide.columns = [f"{stat}_{model}" for stat, model in wide.columns]
    wide = wide.reset_index()
    columns = ["part", "feature"] + [f"{stat}_{m.value}" for m in models
                                     for stat in ("mean", "q5", "q95")]
    wide = wide.reindex(columns=columns)
    table = new_table(wide, rowname_col="feature", groupname_col="part")
    for model in models:
        table = (table.tab_spanner(labels.model_label(model).capitalize(),
                                   columns=[f"{s}_{model.value}" for s in ("mean", "q5", "q95")])
                 .cols_label(**{f"mean_{model.value}": "Mean", f"q5_{model.value}": "90% interval"})
                 .fmt_number(columns=f"mean_{model.value}", decimals=COEFFICIENT_DECIMALS)
                 .pipe(interval, f"q5_{model.value}", f"q95_{model.value}"))
    return table.pipe(house_style)
