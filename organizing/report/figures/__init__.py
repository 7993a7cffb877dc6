"""matplotlib figures for the book, built from typed results (``Results`` or one section).

Every public function returns a ``Figure`` drawn inside the book's style context
(:data:`HOUSE_STYLE`, applied with :func:`matplotlib.rc_context`, so importing
or calling this module never changes the global ``rcParams``). Figures never fit,
never read a data file and never plot a point per worker: distributions come from
precomputed histograms, scatter plots have one point per worksite. Model colours,
line styles and labels come from :mod:`organizing.report.labels`; captions and alt
text live in the chapters' cell options.

One module per chapter, in the order of the book: ``style`` (the house style every
figure shares), ``data``, ``methods``, ``results``, ``clusters``, ``conclusions``.
Chapters call ``figures.<function>``; this package re-exports them.
"""

from organizing.report.figures.clusters import (  # noqa: F401
    CLUSTER_COLOURS,
    _symlog_ticks,
    cluster_pair,
    clustering_logjoint,
    clustering_selection,
)
from organizing.report.figures.conclusions import (  # noqa: F401
    variance_decomposition,
)
from organizing.report.figures.data import (  # noqa: F401
    site_signing_rates,
    worker_feature_distributions,
)
from organizing.report.figures.methods import (  # noqa: F401
    APPROXIMATIONS,
    PLATE_EDGES,
    PLATE_NODES,
    PRIOR_COLOURS,
    approximations_forest,
    elbo_traces,
    plate_diagram,
    prior_predictive,
    published_sign_flip,
    sbc_ranks,
)
from organizing.report.figures.results import (  # noqa: F401
    WORKSITE_MODELS,
    heldout_worksites,
    ppc_worksites,
    reliability,
    roc_curves,
    worker_effects,
    worksite_effects,
)
from organizing.report.figures.style import (  # noqa: F401
    HOUSE_STYLE,
    WIDTH,
    new_figure,
    styled,
)
