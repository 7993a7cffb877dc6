"""Design matrices: standardized features, the study's split, worksite folds.

The study standardized every feature over all rows (workers over all
workers, worksites over the 120 worksites) before splitting; this module does
the same so that the replication sees the same inputs. The extended model
drops the first level of each one-hot group, so that its columns are not
collinear with the intercept. The headline model's design (:func:`headline_design`)
then splits each worker feature into its deviation from the worksite's mean and the
worksite means themselves, added as worksite columns (:func:`within_between`).

:func:`sensitivity_design` builds the headline design of a sensitivity analysis
(:data:`SENSITIVITY_VARIANTS`): the eigenvector centrality split into an
"outside the network" indicator and the log of the centralities that are not
zero in floating point, the design without ``No. Notes``, and the headline
design itself for the fit on every worker (:func:`variant_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from organizing.data import ONE_HOT_GROUPS, Campaign
from organizing.data.splits import study_split, worksite_folds

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Design:
    """Standardized inputs for the models; workers can be subset, worksites not."""

    worker_x: np.ndarray  # (N, P)
    site_x: np.ndarray  # (S, Q)
    site_index: np.ndarray  # (N,) row of site_x for each worker
    signed: np.ndarray  # (N,) 0/1
    worker_features: tuple[str, ...]
    site_features: tuple[str, ...]
    #: Worksite columns left out because the others determine them (:func:`identified`).
    aliases: tuple[Alias, ...] = ()

    @property
    def n_workers(self) -> int:
        return len(self.signed)

    def subset(self, rows: np.ndarray) -> Design:
        """The same design restricted to some workers (all worksites kept)."""
        return replace(
            self,
            worker_x=self.worker_x[rows],
            site_index=self.site_index[rows],
            signed=self.signed[rows],
        )

    def tensors(self, *, observed: bool = True) -> tuple[torch.Tensor, ...]:
        """``(site_x, worker_x, site_index, y)`` as the model functions take them."""
        import torch  # here, so that reading a design never loads torch
        y = torch.as_tensor(self.signed, dtype=torch.float32) if observed else None
        return (
            torch.as_tensor(self.site_x, dtype=torch.float32),
            torch.as_tensor(self.worker_x, dtype=torch.float32),
            torch.as_tensor(self.site_index, dtype=torch.long),
            y,
        )


@dataclass(frozen=True)
class Alias:
    r"""A worksite column that earlier columns determine, and was therefore left out.

    On the standardized columns, :math:`x_{\text{name}} = \sum_k a_k x_k + r` over the
    worksites, with :math:`x_k` the kept columns named in ``on`` (coefficients
    ``coefficients``, a_k) and a residual r whose standard deviation is
    ``residual_sd`` (in standard deviations of the column itself). ``column`` holds the
    column's standardized values, (S,), so that claims about it can still be expressed
    through the columns that determine it (:mod:`organizing.claims`).
    """

    name: str
    on: tuple[str, ...]
    coefficients: np.ndarray
    residual_sd: float
    column: np.ndarray

    def identity(self, decimals: int = 2) -> str:
        """The relation in words: ``Log(Mean degree) = 1.09 × Log(No. edges) − …``."""
        terms = []
        for k, (name, a) in enumerate(zip(self.on, self.coefficients, strict=True)):
            sign = ("−" if a < 0 else "") if k == 0 else (" − " if a < 0 else " + ")
            terms.append(f"{sign}{abs(a):.{decimals}f} × {name}")
        return f"{self.name} = {''.join(terms)}"


def standardize(x: np.ndarray) -> np.ndarray:
    """Center each column and divide by its population sd (as scikit-learn's
    ``StandardScaler``); a constant column becomes zeros."""
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot standardize features with NaN or infinite values")
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


#: Appended to a worker feature's name for the column of its worksite means
#: (:func:`within_between`).
COMPOSITION_SUFFIX = " (worksite mean)"


def is_composition(name: str) -> bool:
    """Whether a worksite column is the worksite mean of a worker feature."""
    return name.endswith(COMPOSITION_SUFFIX)


def site_means(worker_x: np.ndarray, site_index: np.ndarray, n_sites: int) -> np.ndarray:
    r"""Each worksite's mean of each worker column, :math:`\bar z_s`, shape (S, P).

    A worksite without workers gets zeros (the mean of standardized columns).
    """
    worker_x = np.asarray(worker_x, dtype=float)
    counts = np.bincount(site_index, minlength=n_sites).astype(float)
    sums = np.stack([np.bincount(site_index, weights=worker_x[:, k], minlength=n_sites)
                     for k in range(worker_x.shape[1])], axis=1).reshape(n_sites, -1)
    return sums / np.maximum(counts, 1.0)[:, None]


def within_between(design: Design) -> Design:
    r"""The headline model's design: worker features split into a within-worksite part
    and a worksite-composition part (the "within-between" or Mundlak parametrization).

    With :math:`\bar z_s` the mean of worksite :math:`s`'s worker rows (every worker of
    the campaign: features only, no outcome),

    .. math::

        z_i \;\to\; z_i - \bar z_{s(i)}, \qquad
        x_s \;\to\; \bigl(x_s,\; \operatorname{std}(\bar z_s)\bigr),

    where :math:`\operatorname{std}` standardizes each column over the worksites (those
    with workers), like the other worksite columns. The logit
    :math:`α + x_s·β + \operatorname{std}(\bar z_s)·γ + u_s + (z_i - \bar z_s)·b_s`
    then keeps apart what the raw form mixes: :math:`b_s` (mean :math:`μ_b`) compares
    workers of the same worksite, and :math:`γ` compares worksites whose workforces
    differ (per SD of the worksite mean; the contextual effect in Mundlak's sense, the
    between-store slope beyond the within-store one, is :math:`γ_p/\mathrm{sd}(\bar z_p)
    - μ_{b,p}`). The within-between form contains the plain one: with :math:`γ` tied to
    :math:`b` (:math:`γ = \mathrm{sd}(\bar z) ⊙ b` and α shifted) and slopes equal
    across worksites the logits are the same; freeing :math:`γ` lets the comparison of
    worksites differ from the comparison of workers. In the raw form a worksite's
    composition enters through its own slopes,
    :math:`\bar z_s·b_s`, so it is confounded with :math:`u_s` and, for a worksite the
    model has not seen, adds the spread of :math:`\bar z_s·b_s` to its prediction
    (Bafumi and Gelman 2006; Bell and Jones 2015). The composition columns are named
    ``<worker feature> (worksite mean)``. Build it on the whole campaign, then subset
    the workers.
    """
    n_sites = len(design.site_x)
    means = site_means(design.worker_x, design.site_index, n_sites)
    # standardized over the worksites that have workers; one without gets the mean, 0
    occupied = np.bincount(design.site_index, minlength=n_sites) > 0
    composition = np.zeros_like(means)
    composition[occupied] = standardize(means[occupied])
    return replace(
        design,
        worker_x=design.worker_x - means[design.site_index],
        site_x=np.hstack([design.site_x, composition]),
        site_features=design.site_features + tuple(
            f"{name}{COMPOSITION_SUFFIX}" for name in design.worker_features),
    )


def headline_design(campaign: Campaign) -> Design:
    """The headline model's design: one reference level dropped, then
    :func:`within_between`, then :func:`identified`."""
    return identified(within_between(build_design(campaign, drop_reference=True)))


#: A worksite column whose part not explained by the columns before it has a standard
#: deviation below this (in its own standard deviations) is left out (:func:`identified`).
ALIAS_TOLERANCE = 0.01
#: Shown with an alias: the columns whose coefficient in its identity exceeds this.
ALIAS_SHOWN = 0.05


def aliased_columns(x: np.ndarray, names: tuple[str, ...],
                    tolerance: float = ALIAS_TOLERANCE) -> tuple[Alias, ...]:
    r"""The columns of ``x`` that the columns before them determine, in column order.

    Columns are taken in order, as R's ``lm`` and ``glm`` take them: column j is kept
    unless its least-squares residual on the columns kept so far has a standard deviation
    below ``tolerance`` times its own,

    .. math:: \operatorname{sd}\bigl(x_j - X_K \hat a\bigr) < t\,\operatorname{sd}(x_j),
       \qquad \hat a = \arg\min_a \lVert x_j - X_K a \rVert,

    that is, when :math:`1 - R^2_j < t^2`. Along such a column the worksites give no
    information that the kept ones do not: a coefficient for it would be settled by its
    prior alone, and would make the posterior ill-conditioned (exact identities in data
    recorded to four or five digits leave residuals of about :math:`10^{-4}`, hence
    :math:`t = 0.01`). A constant column (sd 0) is aliased on nothing. The columns are
    expected standardized (the residual is then measured in standard deviations).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(f"x has shape {x.shape} but {len(names)} column names were given")
    kept: list[int] = []
    aliases = []
    for j, name in enumerate(names):
        column = x[:, j]
        sd = float(column.std())
        if not sd > 0:
            aliases.append(Alias(name, (), np.zeros(0), 0.0, column.copy()))
            continue
        if kept:
            basis = x[:, kept]
            coefficients, *_ = np.linalg.lstsq(basis, column, rcond=None)
            residual = float((column - basis @ coefficients).std()) / sd
            if residual < tolerance:
                shown = np.abs(coefficients) >= ALIAS_SHOWN
                aliases.append(Alias(name, tuple(names[k] for k, s in zip(kept, shown,
                                                                          strict=True) if s),
                                     coefficients[shown], residual, column.copy()))
                continue
        kept.append(j)
    return tuple(aliases)


def identified(design: Design, tolerance: float = ALIAS_TOLERANCE) -> Design:
    """``design`` without the worksite columns that the others determine
    (:func:`aliased_columns`), which it records in ``aliases``.

    On the campaign, ``Log(Mean degree)`` is ``Log(No. edges)`` minus ``Log(No. workers
    discovered)`` and ``Log(Centrality mean)`` follows from the same two; both are left
    out. The study's own specification (the corrected model) keeps every column.
    """
    found = aliased_columns(design.site_x, design.site_features, tolerance)
    if not found:
        return design
    dropped = {a.name for a in found}
    keep = [q for q, name in enumerate(design.site_features) if name not in dropped]
    return replace(design, site_x=design.site_x[:, keep],
                   site_features=tuple(design.site_features[q] for q in keep),
                   aliases=design.aliases + found)


def _drop_references(x: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    references = {levels[0] for levels in ONE_HOT_GROUPS.values()}
    keep = [i for i, name in enumerate(names) if name not in references]
    return x[:, keep], tuple(names[i] for i in keep)


def build_design(campaign: Campaign, *, drop_reference: bool = False) -> Design:
    """Standardize the campaign's features over all rows, as the study did.

    With ``drop_reference`` the first level of each one-hot group
    (first quartile of time to first conversation, first quintile of campaign
    length) is dropped before standardizing.
    """
    worker_x, worker_names = campaign.worker_x, campaign.worker_features
    site_x, site_names = campaign.site_x, campaign.site_features
    if drop_reference:
        worker_x, worker_names = _drop_references(worker_x, worker_names)
        site_x, site_names = _drop_references(site_x, site_names)
    return Design(
        worker_x=standardize(worker_x),
        site_x=standardize(site_x),
        site_index=np.asarray(campaign.site_index, dtype=np.int64),
        signed=np.asarray(campaign.signed, dtype=float),
        worker_features=worker_names,
        site_features=site_names,
    )


#: The worksite column that measures a worksite's size (the size claims' moderator).
SIZE_COLUMN = "No. workers discovered"


def size_moderator(campaign: Campaign) -> np.ndarray:
    r"""The size interaction's moderator: :math:`m_s` = log workers discovered,
    standardized over the worksites, (S,).

    It is the measure of size the study's size claims name ("the number of workers
    discovered ... correspond to larger worksites"); the slope of a worker feature then
    changes by :math:`λ_p` per standard deviation of log size
    (:func:`organizing.models.numpyro_models.headline`).
    """
    sizes = campaign.site_descriptors[SIZE_COLUMN].to_numpy(dtype=float)
    if not np.all(sizes > 0):
        raise ValueError(f"every worksite needs a positive {SIZE_COLUMN!r} to measure its size")
    return standardize(np.log(sizes)[:, None])[:, 0]


# ------------------------------------------------------------------ sensitivity analyses

#: The sensitivity analyses of the headline model, by key.
SENSITIVITY_VARIANTS: tuple[str, ...] = ("centrality", "no_notes", "all_workers")
CENTRALITY = "Log(Eigen. Centrality)"
NOTES = "No. Notes"
#: Names of the two columns that replace ``Log(Eigen. Centrality)`` in the centrality variant.
OUTSIDE_NETWORK = "Outside the network"
LOG_CENTRALITY_INSIDE = "Log(Eigen. Centrality), inside"
#: log ε of double precision, log(2.2e-16) = -36.04: below it a centrality is zero in
#: floating point (see :func:`outside_network`).
OUTSIDE_NETWORK_CUT = float(np.log(np.finfo(np.float64).eps))


def outside_network(log_centrality: np.ndarray, cut: float = OUTSIDE_NETWORK_CUT) -> np.ndarray:
    r"""Which workers' eigenvector centrality is zero in floating point.

    Eigenvector centrality is the leading eigenvector :math:`c` of the worksite's
    network scaled to unit norm, :math:`\lVert c\rVert_2 = 1`, so every entry is at
    most 1. A unit vector computed in double precision carries its entries to an
    absolute accuracy of about machine epsilon :math:`ε = 2^{-52} ≈ 2.2·10^{-16}`;
    an entry :math:`c_i < ε` cannot be told from 0. Such a value is the residue of
    the power iteration for a worker outside the part of the network that carries
    the eigenvector, where the exact centrality is 0. The rule is
    :math:`\log c_i < \log ε = -36.04`; a non-finite log (a centrality of exactly 0)
    counts as outside too.
    """
    log_centrality = np.asarray(log_centrality, dtype=float)
    if log_centrality.ndim != 1:
        raise ValueError("log centralities must be a 1-d array, one value per worker")
    if np.isnan(log_centrality).any():
        raise ValueError("log centralities contain NaN")
    return ~(log_centrality >= cut)


def centrality_columns(log_centrality: np.ndarray, cut: float = OUTSIDE_NETWORK_CUT,
                       ) -> tuple[np.ndarray, np.ndarray]:
    r"""The two columns that replace the log centrality: an indicator and an inside log.

    With :math:`o_i = 1[\log c_i < \text{cut}]` (:func:`outside_network`), the
    indicator is :math:`o_i` standardized over all workers, like every other column
    of the design, and the inside log is
    :math:`(1 - o_i)\,(\log c_i - m)/s`, where :math:`m` and :math:`s` are the mean
    and population sd of :math:`\log c` over the workers inside: a worker outside
    gets 0, the inside mean. The indicator's coefficient then contrasts a worker
    outside with an average worker inside; the log's coefficient is the change per sd
    of log centrality among workers inside the network.
    """
    outside = outside_network(log_centrality, cut)
    inside_values = np.asarray(log_centrality, dtype=float)[~outside]
    log_inside = np.zeros(len(outside))
    if len(inside_values):
        log_inside[~outside] = standardize(inside_values[:, None])[:, 0]
    return standardize(outside.astype(float)[:, None])[:, 0], log_inside


def sensitivity_design(campaign: Campaign, variant: str) -> Design:
    """The headline design (:func:`headline_design`) of a sensitivity analysis:
    :func:`identified` of :func:`within_between` of :func:`sensitivity_columns`."""
    return identified(within_between(sensitivity_columns(campaign, variant)))


def sensitivity_columns(campaign: Campaign, variant: str) -> Design:
    """The design of a sensitivity analysis before :func:`within_between` splits it.

    It starts from the design with one reference level dropped
    (``build_design(campaign, drop_reference=True)``). ``centrality``:
    ``Log(Eigen. Centrality)`` replaced, in place, by the indicator ``Outside the
    network`` and the inside log of :func:`centrality_columns`. ``no_notes``: the
    ``No. Notes`` column dropped. ``all_workers``: that design unchanged (the variant
    differs in its rows, :func:`variant_rows`). The worksite means of
    :func:`within_between` are taken of these columns, so they change with them.
    """
    if variant not in SENSITIVITY_VARIANTS:
        raise ValueError(f"unknown sensitivity variant {variant!r}; "
                         f"expected one of {', '.join(SENSITIVITY_VARIANTS)}")
    design = build_design(campaign, drop_reference=True)
    names = list(design.worker_features)
    if variant == "centrality":
        if CENTRALITY not in names:
            raise ValueError(f"the campaign has no {CENTRALITY!r} column")
        j = names.index(CENTRALITY)
        raw = campaign.worker_x[:, list(campaign.worker_features).index(CENTRALITY)]
        indicator, log_inside = centrality_columns(raw)
        worker_x = np.column_stack([design.worker_x[:, :j], indicator, log_inside,
                                    design.worker_x[:, j + 1:]])
        names[j:j + 1] = [OUTSIDE_NETWORK, LOG_CENTRALITY_INSIDE]
        design = replace(design, worker_x=worker_x, worker_features=tuple(names))
    elif variant == "no_notes":
        if NOTES not in names:
            raise ValueError(f"the campaign has no {NOTES!r} column")
        keep = [i for i, name in enumerate(names) if name != NOTES]
        design = replace(design, worker_x=design.worker_x[:, keep],
                         worker_features=tuple(names[i] for i in keep))
    return design


def variant_rows(variant: str, train: np.ndarray, n_workers: int) -> np.ndarray:
    """The workers a sensitivity analysis is fitted on: every worker for ``all_workers``,
    the study's training split otherwise."""
    if variant not in SENSITIVITY_VARIANTS:
        raise ValueError(f"unknown sensitivity variant {variant!r}; "
                         f"expected one of {', '.join(SENSITIVITY_VARIANTS)}")
    return np.arange(n_workers) if variant == "all_workers" else np.asarray(train)


__all__ = ["ALIAS_TOLERANCE", "CENTRALITY", "COMPOSITION_SUFFIX", "LOG_CENTRALITY_INSIDE",
           "NOTES", "OUTSIDE_NETWORK", "OUTSIDE_NETWORK_CUT", "SENSITIVITY_VARIANTS", "SIZE_COLUMN",
           "Alias", "Design", "aliased_columns", "build_design", "centrality_columns",
           "headline_design", "identified", "is_composition", "outside_network", "size_moderator",
           "sensitivity_columns", "sensitivity_design", "site_means", "standardize", "study_split",
           "variant_rows", "within_between", "worksite_folds"]
