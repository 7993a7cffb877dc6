"""Every result of the book, typed and cached: what the chapters load."""

from organizing.results.cache import FitSummary, Results, cache_dir, cache_key, load

__all__ = ["FitSummary", "Results", "cache_dir", "cache_key", "load"]
