"""Benchmark of KSB suggestions as the app serves them: from the database, through the
per-process index (`placements.ksb.engine`), and through `flask ksb suggest`.

    .venv/bin/python -P bench/ksb_app.py            # print the figures
    .venv/bin/python -P bench/ksb_app.py --write    # and update bench/RESULTS.md

In one fresh process on a new SQLite database (migrated by `flask db upgrade`): loading the
3,815 bundled statements (`flask seed reference` does the same); the first suggestion
(which loads the model and embeds the standard's statements); the median of 300 single
suggestions after that (texts of the labelled sets, each on its own standard); a batch of
1,000 texts (`suggest_many`, the CLI's --batch path); the RSS increase over all of it.
Then the CLI as a person or a script runs it, in fresh processes: one text, and a
--batch file of 1,000 lines (wall time, process start and model load included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## KSB suggestions in the app"


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def texts() -> list[tuple[str, str]]:
    items = []
    for name in ("ksb-labelled.jsonl", "ksb-heldout.jsonl"):
        with (ROOT / "bench" / "data" / name).open(encoding="utf-8") as handle:
            items += [(r["standard"], r["text"]) for r in map(json.loads, handle)
                      if r.get("standard")]
    return items


def env(database: Path) -> dict[str, str]:
    out = {**os.environ, "PLACEMENTS_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
           "PLACEMENTS_SECRET_KEY": "bench", "FLASK_APP": "wsgi.py"}
    out.pop("DATABASE_URL", None)
    return out


def flask(database: Path, *args: str) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run `flask ...`: (wall seconds, CPU seconds of the child, the finished process)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env(database),
                          capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def timed(call) -> tuple[float, float]:
    """(wall, CPU) seconds of a call in this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def in_process(database: Path) -> dict[str, float]:
    os.environ.update(env(database))
    before = rss_mb()
    from placements import create_app
    from placements.extensions import db
    from placements.ksb import catalogue, engine

    app = create_app()
    out: dict[str, float] = {}
    with app.app_context():
        start = time.perf_counter()
        catalogue.load_bundled()
        db.session.commit()
        out["load_statements_s"] = time.perf_counter() - start
        items = texts()
        start = time.perf_counter()
        engine.suggest(items[0][0], items[0][1], 5)
        out["first_s"] = time.perf_counter() - start
        for standard in {s for s, _ in items}:  # every standard's index, as after a while
            engine.index_for(standard).warm()
        times, cpus = [], []
        for i in range(300):
            standard, text = items[i % len(items)]
            wall, cpu = timed(lambda s=standard, t=text: engine.suggest(s, t, 5))
            times.append(wall)
            cpus.append(cpu)
        out["one_ms"] = statistics.median(times) * 1000
        out["one_p95_ms"] = sorted(times)[int(0.95 * len(times))] * 1000
        out["one_cpu_ms"] = statistics.median(cpus) * 1000
        batch = [items[i % len(items)] for i in range(1000)]
        runs = [timed(lambda: engine.suggest_many(batch, 5)) for _ in range(3)]
        out["batch_s"] = statistics.median(r[0] for r in runs)
        out["batch_cpu_s"] = statistics.median(r[1] for r in runs)
    out["rss_mb"] = rss_mb() - before
    return out


def cli(database: Path) -> dict[str, float]:
    items = texts()
    one = [flask(database, "ksb", "suggest", "--standard", items[0][0], "--top", "5", "--json",
                 items[0][1])[:2] for _ in range(3)]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False,
                                     encoding="utf-8") as handle:
        for i in range(1000):
            standard, text = items[i % len(items)]
            handle.write(json.dumps({"standard": standard, "text": text}) + "\n")
    batch = []
    for _ in range(3):
        wall, cpu, done = flask(database, "ksb", "suggest", "--batch", handle.name)
        assert len(done.stdout.splitlines()) == 1000
        batch.append((wall, cpu))
    os.unlink(handle.name)
    return {"cli_one_s": statistics.median(w for w, _ in one),
            "cli_one_cpu_s": statistics.median(c for _, c in one),
            "cli_batch_s": statistics.median(w for w, _ in batch),
            "cli_batch_cpu_s": statistics.median(c for _, c in batch)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--in-process", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(Path(args.in_process))))
        return
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.sqlite"
        flask(database, "db", "upgrade")
        figures = json.loads(subprocess.run(
            [sys.executable, "-P", __file__, "--in-process", str(database)], check=True,
            capture_output=True, text=True, env=env(database)).stdout.splitlines()[-1])
        figures |= cli(database)
    load = os.getloadavg()[0]
    report = render(figures, load)
    print(report)
    if args.write:
        write(report)


ROWS = [
    ("load the 3,815 statements into the database (once)", "{load_statements_s:.1f} s", "",
     ""),
    ("first suggestion of a process (loads the model, embeds the standard's statements)",
     "{first_s:.2f} s", "", ""),
    ("one suggestion after start-up, median of 300 (p95)",
     "{one_ms:.1f} ms ({one_p95_ms:.1f} ms)", "{one_cpu_ms:.1f} ms", "< 100 ms"),
    ("a batch of 1,000 texts in the process (`suggest_many`), median of 3", "{batch_s:.1f} s",
     "{batch_cpu_s:.1f} s", "< 10 s"),
    ("memory: RSS increase of the process over all of the above", "{rss_mb:.0f} MB", "", ""),
    ("`flask ksb suggest --json TEXT`, a fresh process (start, model, one text), median of 3",
     "{cli_one_s:.1f} s", "{cli_one_cpu_s:.1f} s", ""),
    ("`flask ksb suggest --batch` of 1,000 lines, a fresh process (all of it), median of 3",
     "{cli_batch_s:.1f} s", "{cli_batch_cpu_s:.1f} s", ""),
]


def render(f: dict[str, float], load: float) -> str:
    table = "| what | wall time | CPU time | target |\n|---|---:|---:|---:|\n" + "\n".join(
        f"| {what} | {wall.format(**f)} | {cpu.format(**f)} | {target} |"
        for what, wall, cpu, target in ROWS)
    return f"""{SECTION}

Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()};
shared with other jobs (load average {load:.1f} when the run ended). Date: {date.today()}.
`.venv/bin/python -P bench/ksb_app.py --write`: a fresh SQLite database migrated with
`flask db upgrade`, the 3,815 bundled statements loaded as `flask seed reference` loads them,
texts of bench/data/ksb-labelled.jsonl and ksb-heldout.jsonl (17 standards), method
`hybrid` (the default).

{table}

The engine's own figures (quality, per-method latency, load time and memory without the
app) are in "KSB suggestions" above. A web process loads the model on its first
suggestion and keeps one index per standard, rebuilt only when that standard's statements
change (its revision moves), so only the first request of a process pays the load. Wall
times include waiting for the CPU on this shared machine (compare the load average with
its cores); CPU time is what the process itself spent, the figure to expect on a machine
of its own.
"""


def write(report: str) -> None:
    text = RESULTS.read_text(encoding="utf-8")
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + report
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + report.rstrip("\n") + "\n" + (text[end:] if end != -1 else "")
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
