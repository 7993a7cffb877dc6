"""great-tables tables for the book, built from typed results (``Results`` or one section).

Every function returns a ``GT`` in one house style (:func:`house_style`), never
fits or reads a data file, and never shows a worker-level row. Captions live in
the chapters' ``tbl-cap`` cell options, not in the table header. Credible
intervals are merged into one "5% to 95%" column with the separator the prose
uses; decimals come from :mod:`organizing.report.formatting`, so a number in a
sentence reads as it does in the table. Model names come from
:mod:`organizing.report.labels`.

One module per chapter, in the order of the book: ``style`` (the house style every
table shares), ``data``, ``methods``, ``results``, ``clusters``, ``conclusions``;
``own_campaign`` (the appendix on another union's campaign) and ``sensitivity``.
Chapters call ``tables.<function>``; this package re-exports them.
"""

from organizing.report.tables.clusters import (  # noqa: F401
    cluster_comparison,
)
from organizing.report.tables.conclusions import (  # noqa: F401
    variance_table,
)
from organizing.report.tables.data import (  # noqa: F401
    column_table,
    data_overview,
    feature_summary,
)
from organizing.report.tables.methods import (  # noqa: F401
    OPTIMIZER_SOURCES,
    PRIOR_REASONS,
    REPLICATION_MODELS,
    SCALE_PARAMETERS,
    Z95,
    approximations,
    headline_priors,
    nuts_diagnostics,
    optimizer_comparison,
    prior_predictive,
    prior_values,
    published_one_draw,
    replication,
    sbc_coverage,
    svi_fits,
)
from organizing.report.tables.own_campaign import (  # noqa: F401
    campaign_requirements,
    disclosure_table,
)
from organizing.report.tables.results import (  # noqa: F401
    WORKSITE_SCALARS,
    model_comparison,
    worker_effects,
    worksite_effects,
)
from organizing.report.tables.sensitivity import (  # noqa: F401
    CHANGED_FILL,
    CHANGED_MARK,
    heldout_elpd,
    other_models,
    sensitivity_table,
    sensitivity_verdicts,
)
from organizing.report.tables.style import (  # noqa: F401
    DIVERGING,
    SOURCE,
    house_style,
    interval,
    log_odds_colour,
    new_table,
    probabilities,
    verdict_fills,
)
