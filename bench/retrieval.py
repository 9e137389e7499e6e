"""Retrieval at scale on CPU: ingest 10,000 chunks, answer 1,000 queries, time both.

The knowledge base is built from BANKING77 (../shared/data/banking77, never copied into the
repo): one Markdown document per intent, one section per training message, so every message is
its own chunk (10,003 chunks). The queries are 1,000 test-split messages; a query "hits" when a
top-k chunk comes from a document of its own intent, which gives the timings a quality figure
beside them (nearest-neighbour intent retrieval, not the classification task).

Prints the ingest time (documents parsed, chunks embedded, indexes written), query latency
p50/p95 for one-at-a-time queries with each fusion mode, the batched throughput, and hit rate@k.

    python bench/retrieval.py [--queries 1000] [--k 4]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from steerlab.retrieval.index import KnowledgeBase, ingest

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "data" / "banking77"


def write_corpus(folder: Path) -> int:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with (BANKING77 / "train.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["category"]].append(row["text"])
    for intent, texts in sorted(by_intent.items()):
        sections = "".join(f"## Case {i + 1}\n\n{text}\n\n" for i, text in enumerate(texts))
        (folder / f"{intent}.md").write_text(f"# {intent.replace('_', ' ')}\n\n{sections}")
    return sum(len(texts) for texts in by_intent.values())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    if not BANKING77.is_dir():
        print(f"BANKING77 not found at {BANKING77}", file=sys.stderr)
        return 2
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as scratch:
        kb, workspace = Path(scratch) / "kb", Path(scratch) / "ws"
        kb.mkdir()
        messages = write_corpus(kb)
        started = time.perf_counter()
        report = ingest(kb, workspace)
        ingest_s = time.perf_counter() - started
        print(
            f"ingest: {report.documents} documents, {report.chunks} chunks ({messages} messages) "
            f"in {ingest_s:.1f} s ({report.chunks / ingest_s:.0f} chunks/s), {report.embedded} embedded"
        )
        started = time.perf_counter()
        again = ingest(kb, workspace)
        print(f"re-ingest, nothing changed: {time.perf_counter() - started:.1f} s (hashing only)")
        assert again.already_built

        with (BANKING77 / "test.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        step = max(1, len(rows) // args.queries)
        queries = rows[::step][: args.queries]
        figures: dict[str, object] = {"chunks": report.chunks, "ingest_s": ingest_s}
        with KnowledgeBase.open(workspace) as knowledge:
            knowledge.search("warm up", k=args.k)  # loads the embedder, BM25 and Qdrant once
            for fusion in ("rrf", "dense", "bm25"):
                latencies, hits = [], 0
                for row in queries:
                    started = time.perf_counter()
                    found = knowledge.search(row["text"], k=args.k, fusion=fusion)
                    latencies.append(time.perf_counter() - started)
                    hits += any(h.chunk.doc_id == row["category"] for h in found)
                p50, p95 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000
                print(
                    f"{fusion:>5}: {len(queries)} queries one at a time, p50 {p50:.1f} ms, "
                    f"p95 {p95:.1f} ms, hit rate@{args.k} {hits / len(queries):.1%}"
                )
                figures[fusion] = {"p50_ms": p50, "p95_ms": p95, "hit_rate": hits / len(queries)}
            started = time.perf_counter()
            knowledge.search_many([row["text"] for row in queries], k=args.k)
            batched = len(queries) / (time.perf_counter() - started)
            print(f"  rrf: batched, {batched:.0f} queries/s")
            figures["rrf_batched_qps"] = batched
            figures["median_query_chars"] = statistics.median(len(r["text"]) for r in queries)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
