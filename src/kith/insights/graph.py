"""The influence graph's mathematics, apart from Django: igraph + leidenalg on plain arrays.

``compute_influence`` takes nodes ``0..n-1`` and weighted directed edges and returns,
per node, PageRank (directed: who is mentioned, answered and referred), betweenness
(undirected, distance = 1/weight: who sits on the short paths between groups) and a
Leiden community (undirected, modularity with a resolution parameter). Kept free of the
ORM so the benchmark and the reference tests measure exactly what the worker runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import igraph as ig
import leidenalg
import numpy as np

Progress = Callable[[int, str], None]

DAMPING = 0.85
# Leiden is randomised; a fixed seed keeps communities stable between identical runs,
# so a person's community does not flicker on a page between two nightly runs.
LEIDEN_SEED = 42
# Exact betweenness costs O(nodes x edges): 100,000 ties among 10,000 people took 140 s
# here, a million would take hours. Above this many ties only paths up to
# BETWEENNESS_CUTOFF long (in distance units, 1 = one full-weight tie) are counted —
# igraph's range-limited betweenness, which still finds the local brokers.
BETWEENNESS_EXACT_LIMIT = 20_000
BETWEENNESS_CUTOFF = 2.0


@dataclass
class InfluenceResult:
    """Scores of one computation; lists are indexed by node."""

    pagerank: list[float] = field(default_factory=list)
    betweenness: list[float] = field(default_factory=list)
    community: list[int] = field(default_factory=list)
    # How many distinct communities a node's neighbours belong to (its own included):
    # a bridge touches two or more.
    neighbour_communities: list[int] = field(default_factory=list)
    degree: list[int] = field(default_factory=list)
    modularity: float = 0.0
    edge_count: int = 0

    @property
    def node_count(self) -> int:
        return len(self.pagerank)


def decay(age_days: float, half_life_days: float) -> float:
    """Weight of an interaction ``age_days`` old: halves every ``half_life_days``."""
    if half_life_days <= 0:
        return 1.0
    return math.pow(0.5, max(age_days, 0.0) / half_life_days)


def compute_influence(
    n: int,
    sources: Sequence[int] | np.ndarray,
    targets: Sequence[int] | np.ndarray,
    weights: Sequence[float] | np.ndarray,
    *,
    resolution: float = 1.0,
    betweenness: bool = True,
    progress: Progress | None = None,
) -> InfluenceResult:
    """PageRank, betweenness and Leiden communities of a weighted directed graph.

    Parallel edges are summed, self-loops dropped. A graph with no edges is a valid
    input: every node gets the uniform PageRank ``1/n``, betweenness 0 and its own
    community (nobody influences anybody yet), never an error.
    """
    report = progress or (lambda _pct, _msg: None)
    src = np.asarray(sources, dtype=np.int64)
    dst = np.asarray(targets, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    if not (len(src) == len(dst) == len(w)):
        raise ValueError("sources, targets and weights must have the same length")
    if n == 0:
        return InfluenceResult()
    if len(src) and (src.min() < 0 or dst.min() < 0 or max(src.max(), dst.max()) >= n):
        raise ValueError("edge endpoint outside 0..n-1")
    keep = (src != dst) & (w > 0) & np.isfinite(w)
    src, dst, w = src[keep], dst[keep], w[keep]

    report(5, "Building the graph")
    directed = ig.Graph(n=n, edges=np.column_stack((src, dst)).tolist(), directed=True)
    directed.es["weight"] = w.tolist()
    directed.simplify(multiple=True, loops=True, combine_edges={"weight": "sum"})
    if directed.ecount() == 0:
        report(100, "No edges: no one influences anyone yet")
        return InfluenceResult(
            pagerank=[1.0 / n] * n,
            betweenness=[0.0] * n,
            community=list(range(n)),
            neighbour_communities=[1] * n,
            degree=[0] * n,
        )

    report(20, "PageRank")
    pagerank = directed.pagerank(weights="weight", damping=DAMPING, implementation="prpack")

    undirected = directed.as_undirected(mode="collapse", combine_edges={"weight": "sum"})
    report(40, "Communities (Leiden)")
    partition = leidenalg.find_partition(
        undirected,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=resolution,
        seed=LEIDEN_SEED,
    )
    community = list(partition.membership)

    if betweenness:
        report(60, "Betweenness (bridges)")
        # Strong ties are short: the distance of an edge is the inverse of its weight.
        distances = [1.0 / x for x in undirected.es["weight"]]
        cutoff = None if undirected.ecount() <= BETWEENNESS_EXACT_LIMIT else BETWEENNESS_CUTOFF
        between = undirected.betweenness(weights=distances, directed=False, cutoff=cutoff)
        pairs = (n - 1) * (n - 2) / 2
        between = [b / pairs for b in between] if pairs > 0 else [0.0] * n
    else:
        between = [0.0] * n

    report(90, "Bridges between communities")
    membership = np.asarray(community)
    neighbour_communities = []
    for v, neighbours in enumerate(undirected.get_adjlist()):
        neighbour_communities.append(
            len({int(membership[v])} | set(membership[neighbours].tolist()))
        )

    report(100, "Done")
    return InfluenceResult(
        pagerank=list(pagerank),
        betweenness=list(between),
        community=community,
        neighbour_communities=neighbour_communities,
        degree=undirected.degree(),
        modularity=float(partition.modularity),
        edge_count=directed.ecount(),
    )
