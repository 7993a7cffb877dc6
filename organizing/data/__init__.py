"""The data layer: the only place that knows file names and column names.

``schemas`` holds the pandera schemas, ``io`` finds, reads and validates the
two campaign files into a :class:`Campaign` of arrays with no worker IDs, and
``published`` reads the study's published figures.
"""

from organizing.data.io import (
    DATA_DIR_ENV,
    ONE_HOT_GROUPS,
    SITE_DESCRIPTORS,
    SITE_FEATURES,
    SOURCES,
    UNKNOWN_GENDER,
    WORKER_FEATURES,
    WORKER_FILE,
    WORKSITE_FILE,
    Campaign,
    DataError,
    Problem,
    ValidationReport,
    download_data,
    load_campaign,
    locate_data,
    read_and_validate,
    read_table,
    sha256,
    validate_tables,
)
from organizing.data.published import published_reference

__all__ = [
    "WORKER_FILE",
    "WORKSITE_FILE",
    "DATA_DIR_ENV",
    "SOURCES",
    "WORKER_FEATURES",
    "SITE_FEATURES",
    "ONE_HOT_GROUPS",
    "SITE_DESCRIPTORS",
    "UNKNOWN_GENDER",
    "DataError",
    "Problem",
    "ValidationReport",
    "Campaign",
    "sha256",
    "locate_data",
    "download_data",
    "read_table",
    "validate_tables",
    "read_and_validate",
    "load_campaign",
    "published_reference",
]
