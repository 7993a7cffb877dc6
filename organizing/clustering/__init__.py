"""The study's Gibbs-sampled Gaussian mixture of worksite coefficient vectors.

Three modules, each depending only on the ones before it:

- :mod:`~organizing.clustering.sampler`: the model, its Gibbs sampler, the log
  prior and the alignment of component labels across draws;
- :mod:`~organizing.clustering.selection`: held-out scores (the correct one and
  the study's), the grid over σ and K, and the paired verdict on clusters;
- :mod:`~organizing.clustering.summaries`: assignments, co-assignment, cluster
  means, features by cluster, the mixture over posterior draws, the
  coefficient-size association and the scikit-learn cross-check.
"""

from organizing.clustering.sampler import (
    MixtureSamples,
    align_labels,
    gibbs_mixture,
    hungarian_permutations,
    log_prior,
    permute_labels,
)
from organizing.clustering.selection import (
    CLUSTERS_SUPPORTED,
    INCONCLUSIVE,
    NO_CLUSTERS,
    NO_CLUSTERS_SE,
    STUDY_SIGMA_SWEEP,
    SUPPORTED_SE,
    ClusterVerdict,
    HeldoutDensity,
    StudyHeldoutScore,
    cluster_verdict,
    heldout_log_predictive,
    paired_difference,
    select_mixture,
    sigma_grid,
    study_heldout_log_likelihood,
)
from organizing.clustering.summaries import (
    assignment_probabilities,
    coassignment,
    features_by_cluster,
    modal_assignments,
    sklearn_crosscheck,
)

__all__ = [
    "CLUSTERS_SUPPORTED",
    "INCONCLUSIVE",
    "NO_CLUSTERS",
    "NO_CLUSTERS_SE",
    "STUDY_SIGMA_SWEEP",
    "SUPPORTED_SE",
    "ClusterVerdict",
    "HeldoutDensity",
    "MixtureSamples",
    "StudyHeldoutScore",
    "align_labels",
    "assignment_probabilities",
    "cluster_verdict",
    "coassignment",
    "features_by_cluster",
    "gibbs_mixture",
    "heldout_log_predictive",
    "hungarian_permutations",
    "log_prior",
    "modal_assignments",
    "paired_difference",
    "permute_labels",
    "select_mixture",
    "sigma_grid",
    "sklearn_crosscheck",
    "study_heldout_log_likelihood",
]
