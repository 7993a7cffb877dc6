"""Every result of the book as typed sections, and the cache that stores them.

:mod:`~organizing.results.sections` defines the contract between the pipeline and
the book; :mod:`~organizing.results.cache` stores it safely on disk.
"""

from organizing.results.sections import Results

__all__ = ["Results"]
