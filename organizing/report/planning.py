"""Randomized trials in the report: the planning chapter, the protocol appendix, the CLI.

Sentences, tables (great-tables ``GT``) and figures (matplotlib ``Figure``) built
from :class:`organizing.results.sections.Planning` and from the objects the trial
commands return; the text that ``organizing plan``, ``randomize`` and
``analyse-trial`` print. Nothing here computes a statistic.

Units are stated everywhere: "stores" counts both arms together unless a label
says "per arm"; an effect is a rise in percentage points of a signing rate.
"""

from __future__ import annotations

import math

import matplotlib as mpl
import numpy as np
import pandas as pd
from great_tables import GT
from matplotlib.figure import Figure

from organizing.report import formatting as fmt
from organizing.report import labels
from organizing.report.figures import new_figure, styled
from organizing.report.labels import COLOURS
from organizing.report.tables import house_style, new_table

DESIGN_TITLES = labels.DESIGNS


def points(x: float, decimals: int = 1) -> str:
    """A difference of rates (a fraction) in percentage points: ``+5.0``."""
    text = fmt.number(100 * float(x), decimals)
    return text if text.startswith(fmt.MINUS) or text == fmt.number(0, decimals) else "+" + text


def gap(x: float, decimals: int = 1) -> str:
    """A gap between two rates (a fraction), in percentage points without a sign."""
    return fmt.number(100 * abs(float(x)), decimals)


# ----------------------------------------------------------------- sentences


def icc(planning, scale: str = "proportion") -> str:
    """The intraclass correlation with its 90% interval, on the proportion scale (the one
    a design effect uses) or the latent log-odds scale."""
    value = planning.icc if scale == "proportion" else planning.latent_icc
    return fmt.estimate(value.mean, value.lower, value.upper)


def design_effect(planning) -> str:
    """The design effect at the campaign's store sizes, with its 90% interval."""
    value = planning.design_effect
    return fmt.estimate(value.mean, value.lower, value.upper, decimals=1)


def store_sizes(planning) -> str:
    """``from 11 to 946 workers (median 92, mean 136; coefficient of variation 0.98)``."""
    s = planning.sizes
    return (f"from {fmt.count(s['smallest'])} to {fmt.count(s['largest'])} workers (median "
            f"{fmt.count(s['median'])}, mean {fmt.count(s['mean'])}; coefficient of variation "
            f"{fmt.number(s['cv'])})")


def baseline_note(baseline: float, baseline_workers: float | None, campaign_rate: float,
                  campaign_store_rate: float | None = None) -> str:
    """Why the planning baseline differs from the campaign's signing rate, in two sentences.

    The baseline is the model's forecast for a new store, each store counting once (as a
    comparison of stores counts them); the campaign's rate counts each worker once.
    """
    text = (f"The baseline, {fmt.share(baseline)}, is the model's forecast signing rate for a "
            f"new store like the campaign's, each store counting once, as a trial that "
            f"compares stores counts them; the campaign's own rate, {fmt.share(campaign_rate)}, "
            f"counts each worker once")
    if baseline_workers is None:
        return text + "."
    larger = ("so its large stores, where a smaller share signed, weigh more"
              if baseline_workers < baseline else "so its large stores weigh more")
    text += (f", {larger}: counted that way the same forecast is "
             f"{fmt.share(baseline_workers)}.")
    if campaign_store_rate is not None:
        text += (f" Counted store by store, the campaign's stores signed at "
                 f"{fmt.share(campaign_store_rate)} on average.")
    return text


def baseline_sentence(planning) -> str:
    """:func:`baseline_note` for the book's results (the chapter and the front page)."""
    return baseline_note(planning.baseline_rate, planning.baseline_rate_workers,
                         planning.campaign_rate, planning.campaign_store_rate)


def type_one_error(planning) -> str:
    """The zero-effect rejection rates on the book's grid: ``between 4.1% and 6.0%``."""
    null = planning.power_curves[planning.power_curves["effect"] == 0]
    low, high = null["power"].min(), null["power"].max()
    return f"between {fmt.share(low)} and {fmt.share(high)}"


def type_one_error_within(planning, k: float = 3.0) -> bool:
    """Whether every zero-effect rate is within ``k`` Monte Carlo SEs of alpha."""
    null = planning.power_curves[planning.power_curves["effect"] == 0]
    se = math.sqrt(planning.alpha * (1 - planning.alpha) / planning.sims)
    return bool(np.all(np.abs(null["power"] - planning.alpha) <= k * se))


def type_one_error_sentence(planning) -> str:
    """``it does so in between 4.7% and 8.0% of the simulated trials, each within three
    Monte Carlo standard errors (±3.8 points with 300 trials) of the level``."""
    se = math.sqrt(planning.alpha * (1 - planning.alpha) / planning.sims)
    null = planning.power_curves[planning.power_curves["effect"] == 0]
    worst = float(np.max(np.abs(null["power"] - planning.alpha)) / se)
    text = f"it does so in {type_one_error(planning)} of the simulated trials, "
    if type_one_error_within(planning):
        return text + (f"each within three Monte Carlo standard errors (±"
                       f"{fmt.number(300 * se, 1)} points with {fmt.count(planning.sims)} "
                       "trials) of the level")
    return text + (f"the furthest {fmt.number(worst, 1)} Monte Carlo standard errors from the "
                   "level: more than chance would explain")


def combined_options(planning, n_sites: int) -> str:
    """Whether pairing on the forecast and adjusting for it gain more than the better of
    the two alone, at ``n_sites`` stores, in words."""
    both = _option_row(planning, "worksite", n_sites, match="rate", adjust=True)["mde"]
    alone = min(_option_row(planning, "worksite", n_sites, match="rate")["mde"],
                _option_row(planning, "worksite", n_sites, adjust=True)["mde"])
    if both >= alone:
        return ("Pairing on the forecast and adjusting for it as well does no better than "
                "the better of the two alone: both use the same information")
    return (f"Pairing on the forecast and adjusting for it as well gains "
            f"{fmt.number(100 * (alone - both), 1)} points more than the better of the two "
            "alone: both use the same information")


def rehearsal_power(rehearsal) -> str:
    """The planned power of the rehearsal and what it means for one trial, in words."""
    power = fmt.share(rehearsal.planned_power, 0)
    found = rehearsal.analysis.rejects
    if rehearsal.planned_power < 0.5:
        return (f"The planner had given this design {power} power for that effect: a trial "
                f"this size misses an effect this large more often than it finds it, and "
                f"this one {'happened to find it' if found else 'missed it'}.")
    return (f"The planner had given this design {power} power for that effect, and this "
            f"trial {'found it' if found else 'missed it, as a minority of such trials do'}.")


def _option_row(planning, design: str, n_sites: int, **option) -> pd.Series:
    frame = planning.options
    mask = (frame["design"] == design) & (frame["n_sites"] == n_sites)
    defaults = {"match": "none", "adjust": False, "contamination": 0.0, "effect_sd": 0.0}
    for key, value in {**defaults, **option}.items():
        mask &= frame[key] == value
    rows = frame[mask]
    if len(rows) != 1:
        raise KeyError(f"no single design option {design}, {n_sites} stores, {option}")
    return rows.iloc[0]


def mde(planning, design: str, n_sites: int, **option) -> str:
    """The minimum detectable effect of a design option, in points: ``17.3``."""
    value = _option_row(planning, design, n_sites, **option)["mde"]
    return "not reached" if not np.isfinite(value) else fmt.number(100 * value, 1)


def mde_equal_sizes(planning, design: str, n_sites: int) -> str:
    """The plain design's minimum detectable effect with every store the median size."""
    frame = planning.mde_equal_sizes
    row = frame[(frame["design"] == design) & (frame["n_sites"] == n_sites)]
    if len(row) != 1:
        raise KeyError(f"no equal-size result for {design} at {n_sites} stores")
    value = row["mde"].iloc[0]
    return "not reached" if not np.isfinite(value) else fmt.number(100 * value, 1)


def mde_gain(planning, design: str, n_sites: int, **option) -> str:
    """How many points an option takes off the plain design's MDE: ``2.7``."""
    plain = _option_row(planning, design, n_sites)["mde"]
    other = _option_row(planning, design, n_sites, **option)["mde"]
    return fmt.number(100 * (plain - other), 1)


# ----------------------------------------------------------------- labels


def option_label(row, short: bool = False) -> str:
    """The display label of one design option (a row of ``Planning.options``); ``short``
    for a figure's axis."""
    parts = []
    if row["match"] == "size":
        parts.append("pairs by size" if short else "pairs matched on size")
    elif row["match"] == "rate":
        parts.append("pairs by forecast" if short else "pairs matched on forecast rate")
    if row["adjust"]:
        parts.append("adjusted for forecast" if short else "adjusted for forecast rate")
    if row["contamination"]:
        parts.append(f"{fmt.share(row['contamination'], 0)} reaches controls" if short else
                     f"{fmt.share(row['contamination'], 0)} of the effect reaches controls")
    if row["effect_sd"]:
        sd = fmt.number(row["effect_sd"], 1)
        parts.append(f"effect varies (sd {sd} × mean)" if short else
                     f"effect varies between stores (sd {sd} × its mean)")
    if not parts:
        return "as randomized" if short else "As randomized (no matching)"
    return (" + " if short else "; ").join(parts) if short else "; ".join(parts).capitalize()


# ----------------------------------------------------------------- tables


def power_table(planning) -> GT:
    """Power by design, effect (0 first: the type-I error) and total number of stores."""
    frame = planning.power_curves.copy()
    frame["design"] = frame["design"].map(DESIGN_TITLES)
    frame["cell"] = [f"{fmt.number(p, 2)} ± {fmt.number(se, 2)}"
                     for p, se in zip(frame["power"], frame["mc_se"], strict=True)]
    frame["effect"] = [("none (type-I error)" if e == 0 else f"{points(e, 0)} points")
                       for e in frame["effect"]]
    return _by_stores(frame, "effect", "stores in the trial (total, both arms)", "effect")


def minimum_detectable_effects(planning) -> GT:
    """Minimum detectable effect in points by design and total stores, with stores per arm."""
    frame = planning.mde.copy()
    frame["per_arm"] = np.where(frame["design"] == "worksite", frame["n_sites"] / 2,
                                frame["n_sites"])
    frame["mde"] = 100 * frame["mde"]
    frame["mc_se"] = 100 * frame["mc_se"]
    frame["design"] = frame["design"].map(DESIGN_TITLES)
    return (
        GT(frame[["design", "n_sites", "per_arm", "mde", "mc_se"]], groupname_col="design")
        .cols_label(n_sites="Stores (total)", per_arm="Stores per arm",
                    mde="Minimum detectable effect (points)", mc_se="Monte Carlo s.e.")
        .fmt_integer(columns=["n_sites", "per_arm"])
        .fmt_number(columns=["mde", "mc_se"], decimals=1)
        .sub_missing(columns=["mde", "mc_se"], missing_text="not reached")
        .pipe(house_style)
    )


def design_options(planning) -> GT:
    """Minimum detectable effect (points ± MC s.e.) of each design option at the compared
    totals of stores, against the same design as randomized and with equal store sizes."""
    frame = planning.options.copy()
    frame["option"] = [option_label(row) for _, row in frame.iterrows()]
    equal = planning.mde_equal_sizes.assign(
        option="As randomized, every store the median size", match="none", adjust=False,
        contamination=0.0, effect_sd=0.0)
    frame = pd.concat([equal, frame], ignore_index=True)
    frame["design"] = frame["design"].map(DESIGN_TITLES)
    frame["cell"] = [("not reached" if not np.isfinite(m)
                      else f"{fmt.number(100 * m, 1)} ± {fmt.number(100 * se, 1)}")
                     for m, se in zip(frame["mde"], frame["mc_se"], strict=True)]
    return _by_stores(frame, "option",
                      "minimum detectable effect (points) at this many stores in total",
                      "design option")


def _by_stores(frame: pd.DataFrame, row: str, spanner: str, stubhead: str) -> GT:
    """``frame``'s ``cell`` texts with one column per number of stores, grouped by design
    and labelled by ``row``."""
    wide = frame.pivot_table(index=["design", row], columns="n_sites", values="cell",
                             aggfunc="first", sort=False).reset_index()
    wide.columns = [str(c) for c in wide.columns]
    sizes = [c for c in wide.columns if c not in ("design", row)]
    return (
        GT(wide, groupname_col="design", rowname_col=row)
        .tab_spanner(label=spanner, columns=sizes)
        .tab_stubhead(label=stubhead)
        .pipe(house_style)
    )


def balance_table(balance: pd.DataFrame) -> GT:
    """Per arm: stores, workers, mean store size, mean forecast rate (no unit rows)."""
    frame = balance.copy()
    frame["mean_forecast"] = 100 * frame["mean_forecast"]
    # counts as text with separators: a bare four-digit count can look like an ID
    frame["workers"] = [fmt.count(v) for v in frame["workers"]]
    return (
        new_table(frame[["arm", "stores", "workers", "mean_store_size", "mean_forecast"]])
        .cols_label(arm="Arm", stores="Stores", workers="Workers",
                    mean_store_size="Mean workers per store",
                    mean_forecast="Mean forecast signing rate (%)")
        .fmt_integer(columns=["stores"])
        .fmt_number(columns=["mean_store_size", "mean_forecast"], decimals=1)
        .pipe(house_style)
    )


def trial_estimates(analysis) -> GT:
    """The trial's estimates: the pre-specified test, the adjusted estimate, the Bayesian
    average change; points with their intervals, and p or P(effect > 0)."""
    rows = [{"analysis": analysis.test.name, "estimate": 100 * analysis.test.estimate,
             "low": 100 * analysis.test.lower, "high": 100 * analysis.test.upper,
             "interval": fmt.share(analysis.test.level, 0),
             "evidence": f"p = {fmt.number(analysis.test.pvalue, 3)}"}]
    if analysis.adjusted is not None:
        rows.append({"analysis": analysis.adjusted.name,
                     "estimate": 100 * analysis.adjusted.estimate,
                     "low": 100 * analysis.adjusted.lower, "high": 100 * analysis.adjusted.upper,
                     "interval": fmt.share(analysis.adjusted.level, 0),
                     "evidence": f"p = {fmt.number(analysis.adjusted.pvalue, 3)}"})
    bayes = analysis.bayes
    rows.append({"analysis": "Bayesian multilevel model: average change over the trial's "
                             "workers", "estimate": 100 * bayes.mean, "low": 100 * bayes.lower,
                 "high": 100 * bayes.upper, "interval": fmt.share(bayes.level, 0),
                 "evidence": f"P(effect > 0) = {fmt.probability(bayes.prob_positive)}"})
    return (
        new_table(pd.DataFrame(rows))
        .cols_label(analysis="Analysis", estimate="Effect (points)", low="Interval",
                    interval="Interval level", evidence="Evidence")
        .fmt_number(columns=["estimate"], decimals=1)
        .pipe(lambda t: t.fmt_number(columns=["low", "high"], decimals=1)
              .cols_merge_range(col_begin="low", col_end="high", sep=fmt.INTERVAL_SEPARATOR))
        .pipe(house_style)
    )


def protocol_table(protocol_text: str) -> GT:
    """The main entries of a protocol sheet (its YAML text) as a two-column table; the
    assignment's checksum and the date are left out, counts have thousands separators."""
    import yaml

    sheet = yaml.safe_load(protocol_text)
    planned, analysis, blocks = sheet["planned"], sheet["analysis"], sheet["blocks"]
    if sheet["design"] == "worksite":
        arms = (f"{fmt.count(planned['treated_stores'])} stores with the tactic, "
                f"{fmt.count(planned['control_stores'])} without")
    else:
        arms = (f"{fmt.count(planned['treated_workers'])} workers with the tactic, "
                f"{fmt.count(planned['control_workers'])} without")
    window = sheet["window"]
    rows = [
        ("Design", f"{DESIGN_TITLES[sheet['design']]} ({sheet['unit']})"),
        ("Seed of the draw", str(sheet["seed"])),
        ("Blocks", "none" if blocks["by"] == "none" else
         f"{fmt.count(blocks['count'])} blocks of {blocks['size']} by {blocks['by']}"),
        ("Hypothesis", sheet["hypothesis"]),
        ("Primary outcome", sheet["primary_outcome"]),
        ("Window", "as fixed before the trial" if window["start"] is None
         else f"{window['start']} to {window['end']}"),
        ("Planned size", f"{fmt.count(planned['stores'])} stores, "
                         f"{fmt.count(planned['workers'])} workers; {arms}"),
        ("Test", f"{analysis['test']}; two-sided, alpha {fmt.number(analysis['alpha'], 2)}"),
        ("Adjusted estimate", analysis["adjusted"]),
        ("Bayesian estimate", f"{analysis['bayesian']}; priors {sheet['prior']['source']}"),
    ]
    if "power" in planned:
        rows.append(("Planned effect and power",
                     f"{points(planned['effect'])} points; power "
                     f"{fmt.share(planned['power'], 0)}"))
    return (new_table(pd.DataFrame(rows, columns=["entry", "value"]))
            .cols_label(entry="Entry", value="Value").pipe(house_style))


# ----------------------------------------------------------------- figures


@styled
def power_curves(planning) -> Figure:
    """Power against the total number of stores, one line per effect, one panel per design.

    The zero effect (grey, dashed) is the test's type-I error and should lie on the
    significance level (dotted); bands are ±2 Monte Carlo standard errors; the
    dashed line at the top marks the target power.
    """
    curves = planning.power_curves
    designs = [d for d in DESIGN_TITLES if d in set(curves["design"])]
    fig, axes = new_figure(1, len(designs), height=3.4, sharey=True, squeeze=False)
    effects = sorted(e for e in curves["effect"].unique() if e > 0)
    shades = mpl.colormaps["Blues"](np.linspace(0.45, 0.95, len(effects)))
    styles = [(0.0, COLOURS["reference"], "--", "none (type-I error)")] + [
        (e, c, "-", f"+{100 * e:.0f} points") for e, c in zip(effects, shades, strict=True)]
    for ax, design in zip(axes[0], designs, strict=True):
        for effect, colour, line, label in styles:
            rows = curves[(curves["design"] == design) & (curves["effect"] == effect)]
            rows = rows.sort_values("n_sites")
            ax.fill_between(rows["n_sites"], rows["power"] - 2 * rows["mc_se"],
                            rows["power"] + 2 * rows["mc_se"], color=colour, alpha=0.2, lw=0)
            ax.plot(rows["n_sites"], rows["power"], "o", ls=line, color=colour, ms=3,
                    label=label)
        ax.axhline(planning.target_power, color=COLOURS["reference"], ls="--", lw=0.9)
        ax.axhline(planning.alpha, color=COLOURS["reference"], ls=":", lw=0.9)
        ax.set_ylim(0, 1)
        ax.set_title(DESIGN_TITLES[design], fontsize=10)
    fig.supxlabel("stores in the trial (total, both arms)", fontsize=10)
    axes[0][0].set_ylabel("power")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, title="effect", loc="outside right center", fontsize=8)
    return fig


@styled
def design_options_plot(planning) -> Figure:
    """Minimum detectable effect of each design option (dots, ±2 MC s.e.), one panel per
    compared total of stores; the plain design's value is the dashed line."""
    frame = planning.options.copy()
    frame["label"] = [option_label(row, short=True) for _, row in frame.iterrows()]
    sizes = sorted(frame["n_sites"].unique())
    fig, axes = new_figure(1, len(sizes), height=4.0, sharey=True, squeeze=False)
    order = list(dict.fromkeys(zip(frame["design"], frame["label"], strict=True)))
    y = np.arange(len(order))[::-1]
    colours = {"worksite": COLOURS["band"], "worker": COLOURS["accent"]}
    for ax, n in zip(axes[0], sizes, strict=True):
        rows = frame[frame["n_sites"] == n].set_index(["design", "label"]).loc[order]
        for design in ("worksite", "worker"):
            mask = rows.index.get_level_values(0) == design
            values, se = 100 * rows["mde"].to_numpy()[mask], 100 * rows["mc_se"].to_numpy()[mask]
            ax.errorbar(values, y[mask], xerr=2 * np.nan_to_num(se), fmt="o", ms=4,
                        color=colours[design], label=DESIGN_TITLES[design])
            plain = values[0]
            ax.axvline(plain, color=colours[design], ls="--", lw=0.8)
        ax.set_title(f"{n} stores in total")
        ax.set_xlim(0, None)
        ax.grid(axis="y", visible=False)
    axes[0][0].set_yticks(y, [label for _, label in order], fontsize=8)
    fig.supxlabel("minimum detectable effect (percentage points)", fontsize=10)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper center", ncols=2, fontsize=8)
    return fig


# ----------------------------------------------------------------- command-line text


def plan_text(plan, note: str | None = None) -> str:
    """The plan in readable lines (``organizing plan`` prints them)."""
    s = plan.sizes
    if s.source == "equal":
        sizes = f"{fmt.count(s.mean)} workers at every store"
    else:
        where = "the campaign's stores" if s.source == "campaign" else "your store list"
        sizes = (f"store sizes drawn from {where} ({fmt.count(s.smallest)} to "
                 f"{fmt.count(s.largest)} workers, median {fmt.count(s.median)})")
    if plan.design == "worksite":
        unit = (f"{plan.n_sites} stores in total, {plan.treated_sites} with the tactic and "
                f"{plan.control_sites} without")
    else:
        unit = (f"{plan.n_sites} stores in total, half of each store's workers with the tactic "
                "and half without")
    lines = [
        f"Design: {DESIGN_TITLES[plan.design].lower()}: {unit}; {sizes}; about "
        f"{fmt.count(plan.workers_per_arm)} workers per arm; alpha {plan.alpha:g}; "
        f"{plan.sims:,} simulated trials",
    ]
    if not plan.options.plain:
        lines.append(f"Options: {plan.options.describe()}")
    lines += [
        (f"Baseline: {note}" if note else
         f"Baseline signing rate (forecast for a new store): {fmt.share(plan.baseline_rate)}"),
        f"Effect: {points(plan.effect)} percentage points on the mean signing rate of stores",
        f"Power: {plan.power:.3f} ± {plan.power_se:.3f} (Monte Carlo standard error); with no "
        f"effect {plan.type_one_error:.3f} ± {plan.type_one_error_se:.3f} (the test's type-I "
        f"error, which should be near alpha)",
    ]
    target = fmt.share(plan.target_power, 0)
    if plan.mde is None:
        lines.append(f"Minimum detectable effect at {target} power: not reached")
    else:
        error = "" if plan.mde_se is None else f" ± {100 * plan.mde_se:.1f}"
        lines.append(f"Minimum detectable effect at {target} power: {100 * plan.mde:.1f}{error} "
                     "percentage points")
    if plan.sites_needed is None:
        lines.append(f"Stores needed for {target} power: {plan.sites_needed_note or 'not reached'}")
    else:
        per_arm = (f"{plan.sites_needed // 2} per arm" if plan.design == "worksite"
                   else "each split between the arms")
        lines.append(f"Stores needed for {target} power at this effect: {plan.sites_needed} in "
                     f"total ({per_arm})")
    de = plan.design_effect
    lines.append(f"Intraclass correlation (share of the variance in signing between stores, on "
                 f"the rates' own scale): {plan.icc.mean:.3f} ({plan.icc.lower:.3f} to "
                 f"{plan.icc.upper:.3f}); design effect of randomizing whole stores of these "
                 f"sizes: {de.mean:.1f} ({de.lower:.1f} to {de.upper:.1f})")
    if plan.design == "worker" and not plan.options.contamination:
        lines.append("Caveat: coworkers talk; when the tactic reaches control workers at the "
                     "same store the comparison shrinks toward zero (try --contamination 0.25).")
    return "\n".join(lines)


def randomize_text(assignment, balance: pd.DataFrame, gaps: dict, folder) -> str:
    """What ``organizing randomize`` prints: the draw, the balance table, the files."""
    if assignment.design == "worksite":
        how = {"none": "complete randomization of stores",
               "size": f"stores in blocks of {assignment.block_size} by size",
               "rate": f"stores in blocks of {assignment.block_size} by forecast signing rate"}[
            assignment.block_by]
    else:
        how = "workers randomized within each store (each store a block)"
    lines = [f"Drew the assignment with seed {assignment.seed}: {how}, "
             f"{assignment.blocks} block(s).", "", "Balance by arm:"]
    table = balance.copy()
    table["mean_forecast"] = [("" if not np.isfinite(v) else fmt.share(v))
                              for v in table["mean_forecast"]]
    table["mean_store_size"] = [fmt.number(v, 1) for v in table["mean_store_size"]]
    table = table.rename(columns={"arm": "arm", "stores": "stores", "workers": "workers",
                                  "mean_store_size": "mean workers per store",
                                  "mean_forecast": "mean forecast rate"})
    lines += ["  " + line for line in table.to_string(index=False).splitlines()]
    lines.append(f"Largest difference between the arms within a block: "
                 f"{gaps['max_arm_difference']} unit(s)")
    if "max_workers_spread" in gaps:
        lines.append(f"Widest spread of store size within a block: "
                     f"{fmt.count(gaps['max_workers_spread'])} workers")
    if "max_forecast_spread" in gaps:
        lines.append(f"Widest spread of forecast rate within a block: "
                     f"{fmt.number(100 * gaps['max_forecast_spread'], 1)} points")
    lines += ["", f"Wrote {folder}/assignment.csv and {folder}/protocol.yml. Keep both "
              "where only the trial's organizers can read them, and do not change them: "
              "analyse-trial checks the assignment against the protocol."]
    return "\n".join(lines)


def analysis_text(analysis) -> str:
    """The analysis of a trial in plain words (``organizing analyse-trial`` prints it)."""
    test, bayes = analysis.test, analysis.bayes
    arms = analysis.arms.set_index("arm")
    unit = "stores" if analysis.design == "worksite" else "stores, workers split within each"
    lines = [
        f"Trial: {analysis.stores} {unit}; {fmt.count(analysis.workers)} workers with outcomes.",
        f"Signed: {fmt.share(arms.loc['treated', 'rate'])} of "
        f"{fmt.count(arms.loc['treated', 'workers'])} workers with the tactic, "
        f"{fmt.share(arms.loc['control', 'rate'])} of "
        f"{fmt.count(arms.loc['control', 'workers'])} without.",
        "",
        f"Estimated effect of the tactic: {points(bayes.mean)} percentage points on average "
        f"over the trial's workers (90% interval {points(bayes.lower)} to "
        f"{points(bayes.upper)}); probability that the effect is positive: "
        f"{fmt.probability(bayes.prob_positive)}.",
        f"Pre-specified test ({test.name}): {points(test.estimate)} points "
        f"({fmt.share(test.level, 0)} interval {points(test.lower)} to {points(test.upper)}), "
        f"p = {fmt.number(test.pvalue, 3)}: "
        + ("the trial rejects 'no effect' at the "
           if analysis.rejects else "no decisive result at the ")
        + f"{fmt.share(analysis.alpha, 0)} level.",
    ]
    if analysis.adjusted is not None:
        adj = analysis.adjusted
        lines.append(f"Adjusted for the forecast rates: {points(adj.estimate)} points "
                     f"({fmt.share(adj.level, 0)} interval {points(adj.lower)} to "
                     f"{points(adj.upper)}), p = {fmt.number(adj.pvalue, 3)}.")
    lines += ["", "What this shows: " + (
        "the difference the tactic made, as it was carried out at these stores in this "
        "window, beyond what chance assignment would produce."
        if analysis.rejects else
        "no difference too large for chance. That is not proof of no effect: the interval "
        "shows which effects the trial cannot rule out.")]
    lines.append("What it does not show: how the tactic would work at other stores, at "
                 "another time, or done differently; and if the tactic reached workers or "
                 "stores without it, the trial understates it.")
    if bayes.flags:
        lines.append("Sampler warning: " + "; ".join(bayes.flags) +
                     " (the Bayesian estimate may be unreliable).")
    lines += [f"Note: {note}" for note in analysis.notes]
    return "\n".join(lines)
