"""RAG index: ingest throughput and search latency at 10k and 100k chunks.

For each embedder (``hashing``, the default; ``wordllama`` when installed) and corpus size:

* ingest: chunks/s through ``RagIndex.ingest_sync`` (embedding + SQLite writes into a real file), and
  the embedding alone;
* the first search after ingest (loads the namespace matrix from SQLite, builds the BM25 index and
  saves it in the file), and the first search of the next run (a new connection: the matrix and the
  saved BM25 index are loaded);
* warm search latency, median and p95 over the same queries, for
  - ``hybrid``: ``RagIndex.search_sync`` (query embedding + cosine over the matrix + BM25 + fusion),
  - ``vector``: ``VectorStore.search`` with the query vector already embedded,
  - ``numpy``: the brute-force baseline, ``matrix @ q`` plus ``argpartition`` over the same matrix
    held outside the store (no SQLite, no metadata, no result dicts),
  and the ratios vector/numpy and hybrid/numpy.

The corpus is synthetic and deterministic: chunks of 40-70 words drawn (Zipf-like) from a generated
vocabulary with topic words mixed in, so BM25 and the embedders see repeated vocabulary as in text.

    .venv/bin/python benchmarks/bench_rag.py [--sizes 10000,100000] [--queries 50] [--embedders hashing,wordllama]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one matrix-vector product: threads only add waits
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from llmspell.retrieval.embed import Embedder, HashingEmbedder, WordLlamaEmbedder
from llmspell.retrieval.index import RagIndex
from llmspell.retrieval.vectors import VectorStore, top_k_indices

TOP_K = 5


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[round(0.95 * (len(s) - 1))]


def vocabulary(n: int, rng: random.Random) -> list[str]:
    syll = ["ka", "lo", "mi", "ten", "ra", "vo", "shi", "pel", "dor", "qua", "ne", "sto", "fi", "gar", "bu", "lin"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def corpus(n: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[str]]:
    rng = random.Random(seed)
    vocab = vocabulary(20000, rng)
    weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf-like
    common = rng.choices(vocab, weights=weights, k=n * 60)
    topics = [vocab[rng.randrange(2000, len(vocab))] for _ in range(500)]
    docs: list[dict[str, Any]] = []
    pos = 0
    for i in range(n):
        length = rng.randint(40, 70)
        words = common[pos:pos + length]
        pos += length
        if len(words) < length:
            words = rng.choices(vocab, weights=weights, k=length)
        t = topics[i % len(topics)]
        for j in range(0, length, 12):
            words[j] = t
        docs.append({"id": f"d{i}", "content": " ".join(words) + ".", "metadata": {"topic": i % len(topics)}})
    queries = [f"{topics[rng.randrange(len(topics))]} {rng.choice(vocab[:300])} {rng.choice(vocab[:3000])}"
               for _ in range(200)]
    return docs, queries


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def lat(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:7.2f} ms   p95 {p95(xs) * 1e3:7.2f} ms"


def bench(embedder: Embedder, docs: list[dict[str, Any]], queries: list[str], nq: int, tmp: Path) -> None:
    n = len(docs)
    label = f"{embedder.name}/{embedder.dim}"
    print(f"--- {label}, {n:,} chunks (one chunk per document: chunk_size is larger than any document)")
    db = tmp / f"rag-{embedder.name}-{n}.db"
    store = VectorStore(db, embedder=label, dim=embedder.dim, reembed=embedder.embed)
    index = RagIndex(store, embedder, chunk_size=200, chunk_overlap=0)
    sample = [d["content"] for d in docs[: min(n, 5000)]]
    if isinstance(embedder, HashingEmbedder):  # a fresh memo: the figure includes first-seen words
        embedder = HashingEmbedder(embedder.dim)
        index.embedder = embedder
    t_emb, _ = timed(lambda: embedder.embed(sample))
    print(f"  embed only         {len(sample) / t_emb:10,.0f} chunks/s  ({len(sample):,} chunks, cold memo)")
    t_ing, res = timed(lambda: index.ingest_sync(docs))
    assert res["vectors_created"] == n
    print(f"  ingest             {n / t_ing:10,.0f} chunks/s  ({t_ing:.1f} s: embed + SQLite, file "
          f"{db.stat().st_size / 1e6:.0f} MB)")
    t_first, _ = timed(lambda: index.search_sync(queries[0], top_k=TOP_K))
    print(f"  first search       {t_first * 1e3:10.0f} ms       (loads the matrix, builds BM25 over {n:,} chunks,"
          " saves it in the file)")
    # the next run (a new process) opens the file: matrix from SQLite, BM25 index from its saved blobs
    nxt = RagIndex(VectorStore(db, embedder=label, dim=embedder.dim), embedder, chunk_size=200, chunk_overlap=0)
    t_next, _ = timed(lambda: nxt.search_sync(queries[0], top_k=TOP_K))
    nxt.close()
    print(f"  first search, next run {t_next * 1e3:6.0f} ms       (a new connection: loads the matrix and the saved"
          " BM25 index)")
    qs = queries[1:nq + 1]
    qvecs = embedder.embed(qs)
    hybrid: list[float] = []
    vector: list[float] = []
    base: list[float] = []
    matrix = np.array(store.namespace(None, None).matrix)  # a private copy: no store involved

    def run_hybrid(q: str) -> None:
        index.search_sync(q, top_k=TOP_K)

    def run_vector(v: np.ndarray) -> None:
        store.search(v, TOP_K)

    def run_numpy(v: np.ndarray) -> None:
        top_k_indices(matrix @ v, TOP_K)

    for _ in range(2):  # warm-up pass, then measured
        hybrid.clear()
        vector.clear()
        base.clear()
        for q in qs:
            hybrid.append(timed(lambda q=q: run_hybrid(q))[0])  # type: ignore[misc]
        for v in qvecs:
            vector.append(timed(lambda v=v: run_vector(v))[0])  # type: ignore[misc]
        for v in qvecs:
            base.append(timed(lambda v=v: run_numpy(v))[0])  # type: ignore[misc]
    # same answers: the store's vector search is the brute-force baseline
    same = sum(
        [h.id for h in store.search(v, TOP_K)] == [f"d{i}" for i in top_k_indices(matrix @ v, TOP_K)]
        for v in qvecs[:10])
    print(f"  search hybrid      {lat(hybrid)}   (embed query + cosine + BM25 + fusion)")
    print(f"  search vector      {lat(vector)}   (VectorStore.search, query vector given)")
    print(f"  numpy baseline     {lat(base)}   (matrix @ q + argpartition, same matrix)")
    print(f"  ratio vector/numpy {statistics.median(vector) / statistics.median(base):6.2f}x   "
          f"hybrid/numpy {statistics.median(hybrid) / statistics.median(base):6.2f}x   "
          f"(top-{TOP_K} identical to the baseline for {same}/10 queries)")
    store.close()
    db.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--embedders", default="hashing,wordllama")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if s]
    docs_all, queries = corpus(max(sizes))
    print(f"corpus: {len(docs_all):,} synthetic chunks, "
          f"{sum(len(d['content'].split()) for d in docs_all) / len(docs_all):.0f} words each on average; "
          f"top_k={TOP_K}; {a.queries} queries")
    with tempfile.TemporaryDirectory(prefix="bench-rag-") as td:
        for name in a.embedders.split(","):
            if name == "hashing":
                emb: Embedder = HashingEmbedder(384)
            elif name == "wordllama":
                if not WordLlamaEmbedder.available():
                    print("--- wordllama: not installed (pip install 'llmspell-ls[embed]'), skipped")
                    continue
                emb = WordLlamaEmbedder()
                t0 = time.perf_counter()
                emb.embed(["load the model"])
                t = time.perf_counter() - t0
                print(f"(wordllama model load + first embed: {t:.2f} s)")
            else:
                raise SystemExit(f"unknown embedder {name!r}")
            for n in sizes:
                bench(emb, docs_all[:n], queries, a.queries, Path(td))


if __name__ == "__main__":
    main()
