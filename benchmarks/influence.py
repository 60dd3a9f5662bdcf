"""Influence graph: Kith's computation against igraph's own time for the same steps.

    .venv/bin/python benchmarks/influence.py                 # 1,000,000 edges, 100,000 people
    .venv/bin/python benchmarks/influence.py --edges 100000 --nodes 10000

Both sides get the same random weighted directed edge list (a skewed, preferential
pick of targets, as mentions are) and do the same work: build, merge parallel edges,
PageRank, undirected collapse, Leiden, betweenness (range-limited above
``BETWEENNESS_EXACT_LIMIT`` ties, exact below). Kith's side is
``kith.insights.graph.compute_influence`` as the worker runs it (with its conversions
and the bridge count); the target is at most 1.5x igraph's own time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import igraph as ig
import leidenalg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from kith.insights import graph


def edges(n: int, m: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m)
    # Zipf-like targets: a few people are mentioned a lot.
    dst = np.minimum((rng.pareto(1.2, m) * n / 50).astype(np.int64), n - 1)
    dst = rng.permutation(n)[dst]
    w = rng.uniform(0.05, 1.0, m)
    return src, dst, w


def igraph_alone(n, src, dst, w) -> float:
    t = time.perf_counter()
    g = ig.Graph(n=n, edges=np.column_stack((src, dst)).tolist(), directed=True)
    g.es["weight"] = w.tolist()
    g.simplify(multiple=True, loops=True, combine_edges={"weight": "sum"})
    g.pagerank(weights="weight", damping=graph.DAMPING, implementation="prpack")
    u = g.as_undirected(mode="collapse", combine_edges={"weight": "sum"})
    leidenalg.find_partition(
        u, leidenalg.RBConfigurationVertexPartition, weights="weight", seed=graph.LEIDEN_SEED
    )
    cutoff = None if u.ecount() <= graph.BETWEENNESS_EXACT_LIMIT else graph.BETWEENNESS_CUTOFF
    u.betweenness(weights=[1.0 / x for x in u.es["weight"]], directed=False, cutoff=cutoff)
    return time.perf_counter() - t


def kith(n, src, dst, w) -> float:
    t = time.perf_counter()
    graph.compute_influence(n, src, dst, w)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    src, dst, w = edges(args.nodes, args.edges)
    base = min(igraph_alone(args.nodes, src, dst, w) for _ in range(args.repeat))
    ours = min(kith(args.nodes, src, dst, w) for _ in range(args.repeat))
    ratio = ours / base
    print(f"edges {args.edges:,}  people {args.nodes:,}")
    print(f"igraph + leidenalg alone: {base:.2f} s")
    print(f"kith compute_influence:   {ours:.2f} s")
    print(f"ratio {ratio:.2f} (target <= 1.5): {'PASS' if ratio <= 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
