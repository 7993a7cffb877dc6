"""The coworker network of one store, and the measures the model takes from it.

Each measure is defined once here; ``organizing prepare --records``, the
simulator and ``organizing validate`` all use these functions, and the book's
appendix prints :data:`DEFINITIONS`.

For a store s with workers W_s (|W_s| = n_s) and recorded ties T_s:

* **Network.** G_s is the simple undirected graph on W_s whose edges are the
  distinct unordered pairs {i, j} ⊂ W_s with i ≠ j recorded in T_s (a tie
  recorded twice, or in both directions, is one edge; a tie of a worker with
  themselves is dropped). Workers without a tie are nodes of degree 0.
* **Degree** d_i = number of distinct coworkers tied to i.
* **Edges** E_s = |edges of G_s| = Σ_i d_i / 2.
* **Mean degree** (the study's column) = E_s / n_s: edges per worker, which
  is half the graph-theoretic mean degree 2E_s / n_s. The study's files
  satisfy this identity at every store; after the log and standardization
  the factor 2 makes no difference to any model.
* **Eigenvector centrality.** Let A be the adjacency matrix of G_s and
  λ_max its largest eigenvalue. The leading eigenvector of A lives on the
  connected components whose own largest eigenvalue equals λ_max (within a
  relative 1e-9): the **core** of the network. Each core component C has a
  unique positive unit eigenvector v_C (Perron-Frobenius); with m core
  components, worker i ∈ C gets c_i = v_C,i / √m, so that the vector over
  the core has unit length (one component: the usual eigenvector
  centrality). A worker outside the core (isolated, or in a smaller
  component) is **outside the network**: the eigenvector is exactly 0
  there, and the package records c_i = :data:`OUTSIDE_CENTRALITY` = 2⁻⁵³
  (half of double precision's ε), a stated value below the cut at ε that the
  book's sensitivity analysis uses, never an iterative solver's residue.
* **Centrality mean and variance** of store s: the mean and the population
  variance (divided by n_s) of c_i over all i ∈ W_s, outside workers included.

A store needs at least one tie: without an edge there is no eigenvector and
every log of the network measures is −∞ (:mod:`organizing.data.records`
reports it).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

#: Centrality recorded for a worker outside the network's core: 2**-53, half of float64's ε.
OUTSIDE_CENTRALITY = float(np.finfo(np.float64).eps) / 2
#: Relative tolerance within which a component's largest eigenvalue ties with λ_max.
EIGENVALUE_RTOL = 1e-9

#: Each network measure and its definition, as the appendix prints them.
DEFINITIONS: dict[str, str] = {
    "Network": "simple undirected graph on the store's workers; an edge for each distinct "
               "pair of different workers with a recorded tie (duplicates and both directions "
               "count once; a tie of a worker with themselves is dropped)",
    "Degree": "number of distinct coworkers tied to the worker",
    "No. edges": "number of edges of the store's network (the sum of degrees / 2)",
    "Mean degree": "No. edges / number of the store's workers: edges per worker, half the "
                   "graph-theoretic mean degree (as in the study's files; the factor 2 "
                   "vanishes when the log is standardized)",
    "Eigen. Centrality": "entry of the leading eigenvector of the adjacency matrix: each "
                         "connected component whose largest eigenvalue equals the network's "
                         "(the core) gets its positive unit eigenvector divided by √(number "
                         "of core components); a worker outside the core (isolated, or in a "
                         f"smaller component) gets {OUTSIDE_CENTRALITY:.3g} (2⁻⁵³)",
    "Outside network": "1 for a worker outside the network's core (centrality 2⁻⁵³), else 0",
    "Centrality mean": "mean of the store's workers' centralities, outside workers included",
    "Centrality variance": "population variance (divided by the number of workers) of the "
                           "store's workers' centralities, outside workers included",
}


@dataclass(frozen=True)
class NetworkMeasures:
    """The measures of one store's network; worker arrays follow the order of ``workers``."""

    degree: np.ndarray
    centrality: np.ndarray
    outside: np.ndarray  # bool
    edges: int
    mean_degree: float
    centrality_mean: float
    centrality_variance: float


def mean_degree(edges, workers):
    """The study's ``Mean degree``: edges per worker, E_s / n_s (NaN for no worker)."""
    edges, workers = np.asarray(edges, dtype=float), np.asarray(workers, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(workers > 0, edges / np.where(workers > 0, workers, 1), np.nan)


def coworker_graph(workers: Sequence[Hashable],
                   ties: Iterable[tuple[Hashable, Hashable]]) -> nx.Graph:
    """The store's network: every worker a node, every distinct pair with a tie an edge.

    Ties naming a worker not in ``workers`` raise ValueError (the records'
    validation reports them before this is called); self-ties are dropped.
    """
    graph = nx.Graph()
    graph.add_nodes_from(workers)
    for a, b in ties:
        if a not in graph or b not in graph:
            raise ValueError("a tie names a worker who is not one of the store's workers")
        if a != b:
            graph.add_edge(a, b)
    return graph


def _leading(graph: nx.Graph, nodes: list) -> tuple[float, np.ndarray]:
    """Largest eigenvalue of a connected component and its positive unit eigenvector."""
    adjacency = nx.to_numpy_array(graph, nodelist=nodes, dtype=float)
    values, vectors = np.linalg.eigh(adjacency)
    vector = np.abs(vectors[:, -1])  # Perron vector: one sign throughout
    return float(values[-1]), vector / np.linalg.norm(vector)


def eigenvector_centrality(graph: nx.Graph, order: Sequence[Hashable]
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Centralities (and the outside-network mask) of the workers in ``order``.

    The core is the set of connected components whose largest adjacency
    eigenvalue equals the network's, λ_max (relative tolerance
    :data:`EIGENVALUE_RTOL`); with m core components, a core worker's
    centrality is its component's positive unit eigenvector entry / √m. All
    other workers are outside: :data:`OUTSIDE_CENTRALITY`. Components are
    taken in a canonical order (nodes sorted as text) so that the numbers do
    not depend on the order of the records.
    """
    position = {node: k for k, node in enumerate(order)}
    centrality = np.full(len(order), OUTSIDE_CENTRALITY)
    outside = np.ones(len(order), dtype=bool)
    leading = []
    for component in nx.connected_components(graph):
        if len(component) < 2:
            continue  # an isolated worker: eigenvalue 0, never in the core of a network
        nodes = sorted(component, key=str)
        leading.append((nodes, *_leading(graph, nodes)))
    if not leading:
        return centrality, outside
    top = max(value for _, value, _ in leading)
    core = [(nodes, vector) for nodes, value, vector in leading
            if value >= top * (1 - EIGENVALUE_RTOL)]
    scale = np.sqrt(len(core))
    for nodes, vector in core:
        rows = [position[node] for node in nodes]
        centrality[rows] = vector / scale
        outside[rows] = False
    return centrality, outside


def network_measures(workers: Sequence[Hashable],
                     ties: Iterable[tuple[Hashable, Hashable]]) -> NetworkMeasures:
    """Every network measure of one store (definitions in the module docstring)."""
    workers = list(workers)
    graph = coworker_graph(workers, ties)
    degree = np.array([graph.degree(w) for w in workers], dtype=float)
    centrality, outside = eigenvector_centrality(graph, workers)
    n = len(workers)
    edges = graph.number_of_edges()
    return NetworkMeasures(
        degree=degree, centrality=centrality, outside=outside, edges=edges,
        mean_degree=float(mean_degree(edges, n)),
        centrality_mean=float(np.mean(centrality)) if n else float("nan"),
        centrality_variance=float(np.var(centrality)) if n else float("nan"),
    )
