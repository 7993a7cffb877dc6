"""The data layer: the only place that knows file names and column names.

``schemas`` holds the pandera schemas, ``io`` finds, reads and validates the
two campaign files into a :class:`Campaign` of arrays with no worker IDs,
``checks`` decides whether a validated campaign can be analysed with given
settings, and ``published`` reads the study's published figures.
"""

from organizing.data.checks import (
    assert_analysable,
    check_campaign,
    load_campaign,
    read_and_validate,
)
from organizing.data.io import (
    CHUNK_ROWS,
    DATA_DIR_ENV,
    MAX_EXAMPLES,
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
    campaign_from_frames,
    download_data,
    locate_data,
    read_header,
    read_table,
    sha256,
    unreadable,
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
    "CHUNK_ROWS",
    "MAX_EXAMPLES",
    "DataError",
    "Problem",
    "ValidationReport",
    "Campaign",
    "sha256",
    "unreadable",
    "locate_data",
    "download_data",
    "read_header",
    "read_table",
    "validate_tables",
    "read_and_validate",
    "campaign_from_frames",
    "load_campaign",
    "assert_analysable",
    "check_campaign",
    "published_reference",
]
