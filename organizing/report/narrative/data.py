"""Sentences of the data chapter: the files, the designs' columns, the network measures."""

from __future__ import annotations

import numpy as np

from organizing.report import formatting as fmt


def checksums(data) -> str:
    """The first characters of each data file's sha256: ``1a2b3c4d5e6f… (workers) and …``."""
    from organizing.data import WORKER_FILE, WORKSITE_FILE

    return (f"{data.checksums[WORKER_FILE][:12]}… (workers) and "
            f"{data.checksums[WORKSITE_FILE][:12]}… (worksites)")


def aliases_sentence(data) -> str:
    """The worksite columns the book's models leave out, each with its identity."""
    frame = getattr(data, "aliases", None)
    if frame is None or frame.empty:
        return "No worksite column is determined by the others in these files."
    parts = [f"{r['identity'].replace(' × ', '·')} to within "
             f"{r['residual_sd'] * 100:.2g}% of its own spread" for _, r in frame.iterrows()]
    return ("In these files, on standardized columns, " + fmt.listing(parts) + ".")


def model_site_features(data) -> list[str]:
    """The worksite features of the headline and extended models: every column but the
    one-hot reference levels and the columns other columns determine."""
    aliases = getattr(data, "aliases", None)
    left_out = set(() if aliases is None else aliases["name"])
    return [f for f in data.reduced_site_features if f not in left_out]


def reference_levels(data) -> str:
    """The one-hot levels the headline model drops, in words."""
    dropped = [f"“{name}”" for name in (*data.worker_features, *data.site_features)
               if name not in (*data.reduced_worker_features, *data.reduced_site_features)]
    return fmt.listing(dropped)


def complete_groups(data) -> str:
    """How the time-to-first-conversation quartiles cover every worker."""
    shares = np.asarray(data.quartile_shares, dtype=float)
    return (f"the shares of workers in the {fmt.count(len(shares))} quartiles are "
            f"{fmt.listing(fmt.share(s) for s in shares)}, which add up to "
            f"{fmt.share(shares.sum())}")


def outside_network_sentence(results) -> str:
    """The outside-network cut and how many workers it puts outside, with signing rates
    (a rate disclosure control withheld where it was computed is named as withheld)."""
    s, k = results.sensitivity, results.data.disclosure.min_count

    def rate(value: float) -> str:
        if not np.isfinite(value):
            return f"a rate withheld (fewer than {k} signers or non-signers)"
        return fmt.share(value)

    return (f"a log centrality below {fmt.number(s.outside_cut)} puts "
            f"{fmt.share(s.share_outside)} of workers outside the network; they signed at "
            f"{rate(s.signing_outside)}, against {rate(s.signing_inside)} of the workers inside")

