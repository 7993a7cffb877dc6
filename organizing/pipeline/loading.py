"""Reading the results: from the cache, or computed by :func:`~organizing.pipeline.stages.run`
when asked."""

from __future__ import annotations

import os
import sys

from organizing.config import Config, load_config
from organizing.data import Campaign, assert_analysable, load_campaign
from organizing.results import cache
from organizing.results.sections import Results


class NotComputed(LookupError):
    """The results asked for are not in the cache, and computing them was not asked for."""


def load(
    config_path: str | os.PathLike | None = None,
    *,
    profile: str | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    compute: bool = False,
    missing_ok: bool = False,
) -> Results | None:
    """Cached results for the current data, configuration and code.

    Reading never computes unasked: when the entry is missing, :class:`NotComputed`
    names the profiles that are cached for this campaign and code, and the
    command that computes the missing one; with ``compute`` (``organizing
    run``) the results are computed and cached instead. With ``missing_ok``, a
    missing entry returns None once the campaign, the settings and the cache
    folder have been checked (so that a computation never starts on data or in a
    folder it cannot finish with).
    """
    config = load_config(config_path, profile)
    campaign = load_campaign(data_dir)
    if not compute:
        folder = cache.entry_path(cache.cache_key(campaign.checksums, config))
        if missing_ok and not folder.exists():
            assert_analysable(campaign, config)
            cache.check_writable(folder.parent)
            return None
        results = cache.cached(folder)
        if results is None:
            raise NotComputed(_not_computed(campaign, config, config_path, data_dir))
        return results
    return load_for(campaign, config, progress=progress)


def _not_computed(campaign: Campaign, config: Config, config_path, data_dir) -> str:
    """Which profiles are cached for this campaign, settings file and code; what to run."""
    from organizing.config import PROFILES

    present = [p for p in PROFILES if cache.entry_path(
        cache.cache_key(campaign.checksums, load_config(config_path, p))).exists()]
    options = f" --profile {config.profile}"
    options += f" --config {config_path}" if config_path else ""
    options += f" --data {data_dir}" if data_dir else ""
    cached = (f"cached for this campaign and code: profile {', '.join(map(repr, present))}"
              if present else "nothing is cached for this campaign and code yet")
    return (f"the results of profile {config.profile!r} have not been computed ({cached}); "
            f"`organizing run{options}` computes them")


def load_for(campaign: Campaign, config: Config, *, progress: bool | None = None) -> Results:
    """:func:`load` for a campaign and configuration already in hand.

    The same analysability checks as ``organizing validate`` run first, and the
    cache folder is checked for write access, so a run never fails after fitting.
    """
    key = cache.cache_key(campaign.checksums, config)
    folder = cache.entry_path(key)
    results = cache.cached(folder)
    if results is not None:
        return results
    assert_analysable(campaign, config)
    cache.check_writable(folder.parent)
    with cache.locked(folder):
        results = cache.cached(folder)  # another run may have finished meanwhile
        if results is None:
            from organizing.pipeline import stages

            results = stages.run(campaign, config, cache_key=key,
                                 progress=sys.stderr.isatty() if progress is None else progress)
            cache.write_entry(results, folder)
    return results
