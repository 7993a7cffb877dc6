"""Sentences about the sensitivity analyses (results chapter)."""

from __future__ import annotations

from organizing.report import formatting as fmt
from organizing.report.labels import sensitivity_label


def sensitivity_changes(results, variant: str) -> str:
    """The verdicts one sensitivity analysis changes, in words (``no verdict changes``)."""
    verdicts = results.sensitivity.verdicts
    changed = verdicts[(verdicts["variant"] == variant) & verdicts["changed"]]
    if changed.empty:
        return "no verdict changes"
    return fmt.listing(f"*{row['claim']}* goes from {row['headline_verdict']} to "
                       f"{row['verdict']}" for _, row in changed.iterrows())


def sensitivity_sentence(results) -> str:
    """One clause per sensitivity analysis: the verdicts it changes."""
    variants = list(dict.fromkeys(results.sensitivity.verdicts["variant"]))
    return "; ".join(f"{sensitivity_label(v)}, {sensitivity_changes(results, v)}"
                     for v in variants)


def n_sensitivity_changes(results) -> str:
    """How many (analysis, claim) verdicts differ from the headline model's."""
    return fmt.count(int(results.sensitivity.verdicts["changed"].sum()))


def sensitivity_diagnostics(results) -> str:
    """Whether every sensitivity fit passed the NUTS checks, and which did not."""
    failed = [sensitivity_label(v) for v, run in results.sensitivity.runs.items()
              if not run.diagnostics.ok]
    if not failed:
        return "every sensitivity fit passes the convergence checks"
    fits, verb = ("fit", "is") if len(failed) == 1 else ("fits", "are")
    return f"the {fits} {fmt.listing(failed)} {verb} flagged by the convergence checks"

