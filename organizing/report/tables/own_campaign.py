"""Tables of the book: "Your own campaign" appendix."""

from __future__ import annotations

import numpy as np
import pandas as pd
from great_tables import GT

from organizing.models import HEADLINE_MODEL
from organizing.report.tables.style import house_style, new_table


def campaign_requirements(results, others: dict | None = None) -> GT:
    """Minimum sizes and run times for the quick and full profiles.

    The minimums are the data section's ``minimum_sites``: the rule of
    :mod:`organizing.data.checks` under each profile's settings (this book's own settings
    for its profile), applied when the results were computed. Each run time is a measurement:
    this book's own (``meta.timings``), and another profile's from its results when
    they are computed for the same campaign (``others``: profile → its results, or None
    when they are not computed).
    """
    from organizing.data.checks import (
        MIN_CLUSTER_HELDOUT,
        MIN_CLUSTER_TRAIN,
        MIN_PER_CLASS,
        MIN_SITES,
    )
    from organizing.report.formatting import count

    current = results.meta.profile
    others = others or {}
    minimums = results.data.minimum_sites
    rows = [
        {"requirement": "Worksites (each with at least one worker)",
         **{p: count(n) for p, n in minimums.items()},
         "source": f"at least {count(MIN_SITES)} for the clustering (trained on "
                   f"{count(MIN_CLUSTER_TRAIN)}, scored on {count(MIN_CLUSTER_HELDOUT)} held "
                   "out), and at least the number of worksite folds and of clusters tried"},
        {"requirement": "Signers, and non-signers",
         **{p: count(MIN_PER_CLASS) for p in minimums},
         "source": "in the training and the held-out part of the split, and in every "
                   "fold (checked by organizing validate)"},
    ]
    times, sources = {}, []
    for p in minimums:
        measured = results if p == current else others.get(p)
        if measured is None:
            times[p] = "not computed"
            sources.append(f"{p}: not computed for this campaign on this machine")
        else:
            times[p] = _minutes(measured.meta.timings["total"])
            sources.append(f"{p}: measured " + ("while computing this book's results"
                                                if p == current else "when its results "
                                                "were computed"))
    rows.append({"requirement": "Time to compute every result from an empty cache",
                 **times, "source": "; ".join(sources)})
    frame = pd.DataFrame(rows)
    return (
        new_table(frame)
        .cols_label(requirement="", source="Where it comes from",
                    **{p: f"{p} profile" + (" (this book)" if p == current else "")
                       for p in minimums})
        .pipe(house_style)
    )


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(round(float(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def disclosure_table(results) -> GT:
    """What disclosure control withheld in this book, output by output (k from the
    configuration)."""
    from organizing.report.formatting import count

    data = results.data
    k = data.disclosure.min_count
    withheld = data.disclosure
    ppc = results.evaluation.ppc
    ppc_shown = ppc["shown"].to_numpy(dtype=bool)
    calibration = results.evaluation.curves[HEADLINE_MODEL].calibration
    pooled = ("" if withheld.pooled_rate is None or not withheld.rates_withheld
              else "; their pooled rate is drawn instead")
    rows = [
        ("Signing rate by worksite (data chapter: figure and overview table)",
         f"a worksite's rate needs at least {k} signers and {k} non-signers",
         f"{count(withheld.rates_withheld)} of {count(data.n_sites)} worksites{pooled}"),
        ("Distributions of worker features (data chapter)",
         f"every bar holds at least {k} workers (small bins merged)",
         "; ".join(f"{name}: {count(n)} of 40 bins merged"
                   for name, n in withheld.bins_merged.items())),
        ("Worksite rates of held-out workers (results chapter: posterior predictive check)",
         f"an observed rate needs at least {k} signers and {k} non-signers",
         f"{count(int(np.sum(~ppc_shown)))} of {count(len(ppc))} worksites' observed rates"),
        ("Reliability diagram (results chapter)",
         f"every bin holds at least {k} workers",
         f"{count(int(np.sum(~calibration['shown'])))} of {count(len(calibration))} bins"),
        ("Counts in the text and in tables",
         f"a count below {k} prints as \"fewer than {k}\"", "as needed"),
    ]
    frame = pd.DataFrame(rows, columns=["output", "rule", "withheld"])
    return (
        new_table(frame)
        .cols_label(output="Output", rule="Rule", withheld="Withheld in this book")
        .pipe(house_style)
    )
