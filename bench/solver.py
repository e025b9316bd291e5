"""Benchmark the allocation solver end to end against two baselines; update bench/RESULTS.md.

Usage: python bench/solver.py [--sizes 1000,10000,50000] [--repeat 3] [--no-write]

For each generated instance (see bench/instances.py) this runs
`python -m solver solve` in a subprocess (load, solve, write) and records wall
time, CPU time and peak memory of that process; it then runs, on the same
instance, a first-come-first-served greedy allocation (a spreadsheet process)
and the `matching` library's hospital-resident algorithm (in a subprocess
with a time cap), and compares quality and time.
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
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.instances import generate  # noqa: E402
from solver import parse_problem  # noqa: E402
from solver.geo import haversine_km  # noqa: E402
from solver.instance import build_instance  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HR_TIME_CAP_S = 300


def run_measured(cmd: list[str], timeout: float | None = None) -> dict[str, Any]:
    """Run a command; return wall and CPU seconds, peak RSS in MB and the exit code."""
    # Output goes to files, not pipes: a full pipe would block the child.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out_file, stderr=err_file)
        deadline = None if timeout is None else start + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.01)
        wall = time.perf_counter() - start
        out_file.seek(0)
        err_file.seek(0)
        out = out_file.read().decode()
        err = err_file.read().decode()
    proc.returncode = 0  # reaped by wait4; keep Popen from waiting again
    return {"wall_s": wall, "timeout": timed_out,
            "code": None if timed_out else os.waitstatus_to_exitcode(status),
            "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
            "stdout": out, "stderr": err}


#: Runs the solver CLI, then records this process's own peak RSS (VmHWM). ru_maxrss would
#: also count the parent's memory that the child inherited at fork time.
CLI_WRAPPER = """
import os, sys
from solver.__main__ import main
code = main(sys.argv[1:])
with open("/proc/self/status") as fh:
    peak = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
with open(os.environ["SOLVER_PEAK_FILE"], "w") as out:
    out.write(peak)
sys.exit(code)
"""


def run_cli_measured(args: list[str], workdir: Path) -> dict[str, Any]:
    """Run `python -m solver ARGS` (through the peak-recording wrapper) and measure it."""
    peak_file = workdir / "peak.txt"
    os.environ["SOLVER_PEAK_FILE"] = str(peak_file)
    run = run_measured([sys.executable, "-c", CLI_WRAPPER, *args])
    if peak_file.exists():
        run["peak_mb"] = int(peak_file.read_text()) / 1024
        peak_file.unlink()
    return run


def quality(assign: dict[str, tuple[str, int | None]], data: dict[str, Any]) -> dict[str, Any]:
    """Summarise an allocation {learner: (offer, rank or None for locked)}."""
    mandated = {le["id"] for le in data["learners"] if le.get("mandated")}
    ranks = Counter(r for _, r in assign.values() if r is not None)
    k = data["settings"]["max_preferences"]
    listed = [r for _, r in assign.values() if r is not None and r <= k]
    return {
        "mandated_placed": sum(1 for lid in assign if lid in mandated),
        "placed": len(assign),
        "first_choice": ranks.get(1, 0),
        "top3": sum(ranks.get(r, 0) for r in (1, 2, 3)),
        "mean_rank": round(statistics.mean(listed), 3) if listed else None,
        "fallback": sum(v for r, v in ranks.items() if r > k),
        "histogram": {str(r): ranks[r] for r in sorted(ranks)},
    }


def eligible(learner: dict[str, Any], offer: dict[str, Any]) -> bool:
    """The contract's eligibility rule, for the baselines."""
    if learner["sector"] != offer["sector"]:
        return False
    limit = learner.get("max_km")
    if limit is not None and haversine_km(
        learner["lat"], learner["lon"], offer["lat"], offer["lon"]
    ) > limit:
        return False
    return set(offer.get("requires", [])) <= set(learner.get("has", []))


def valid_preferences(data: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """Each learner's listed offers that count, with their ranks."""
    offers = {o["id"]: o for o in data["offers"]}
    k = data["settings"]["max_preferences"]
    out: dict[str, list[tuple[str, int]]] = {}
    for learner in data["learners"]:
        seen: set[str] = set()
        keep: list[tuple[str, int]] = []
        for pos, oid in enumerate(learner.get("preferences", [])[:k]):
            if oid in seen:
                continue
            seen.add(oid)
            if oid in offers and eligible(learner, offers[oid]):
                keep.append((oid, pos + 1))
        out[learner["id"]] = keep
    return out


def greedy(data: dict[str, Any]) -> dict[str, tuple[str, int | None]]:
    """First come, first served: in file order, each learner takes its best listed seat left."""
    left = {o["id"]: o["capacity"] for o in data["offers"]}
    assign: dict[str, tuple[str, int | None]] = {}
    for pair in data.get("locked", []):
        left[pair["offer"]] -= 1
        assign[pair["learner"]] = (pair["offer"], None)
    for lid, prefs in valid_preferences(data).items():
        if lid in assign:
            continue
        for oid, rank in prefs:
            if left[oid] > 0:
                left[oid] -= 1
                assign[lid] = (oid, rank)
                break
    return assign


def hospital_resident(path: str) -> None:
    """Run matching's HospitalResident on a problem file; print the allocation as JSON."""
    from matching.games import HospitalResident

    data = json.loads(Path(path).read_text())
    locked = {p["learner"]: p["offer"] for p in data.get("locked", [])}
    capacity = {o["id"]: o["capacity"] for o in data["offers"]}
    for offer in locked.values():
        capacity[offer] -= 1
    prefs = {lid: p for lid, p in valid_preferences(data).items() if p and lid not in locked}
    learners = {le["id"]: le for le in data["learners"]}
    offers = {o["id"]: o for o in data["offers"]}
    applicants: dict[str, list[str]] = {o: [] for o in capacity}
    for lid, plist in prefs.items():
        for oid, _ in plist:
            applicants[oid].append(lid)
    # Employers rank applicants: mandated learners first, then the nearest.
    hospital_prefs = {
        oid: sorted(lids, key=lambda lid, o=offers[oid]: (
            not learners[lid].get("mandated", False),
            haversine_km(learners[lid]["lat"], learners[lid]["lon"], o["lat"], o["lon"]),
        ))
        for oid, lids in applicants.items() if lids and capacity[oid] > 0
    }
    resident_prefs = {
        lid: [o for o, _ in plist if o in hospital_prefs] for lid, plist in prefs.items()
    }
    resident_prefs = {lid: p for lid, p in resident_prefs.items() if p}
    out: dict[str, str] = {}

    def run() -> None:
        game = HospitalResident.create_from_dictionaries(
            resident_prefs, hospital_prefs, {o: capacity[o] for o in hospital_prefs}
        )
        matched = game.solve(optimal="resident")
        out.update({str(r.name): str(h.name) for h, rs in matched.items() for r in rs})

    # The library deep-copies its object graph recursively; give it room to try at scale.
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(1 << 29)
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if not out and resident_prefs:
        raise SystemExit("HospitalResident raised (see above)")
    print(json.dumps(out))


def hr_allocation(path: Path, data: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Run the hospital-resident baseline in a subprocess with a time cap."""
    run = run_measured(
        [sys.executable, str(Path(__file__).resolve()), "--hr", str(path)], timeout=HR_TIME_CAP_S
    )
    if run["timeout"] or run["code"] != 0:
        reason = "timeout" if run["timeout"] else run["stderr"].strip().splitlines()[-1:]
        return run, f"failed: {reason}"
    ranks = {lid: dict(p) for lid, p in valid_preferences(data).items()}
    assign: dict[str, tuple[str, int | None]] = {
        p["learner"]: (p["offer"], None) for p in data.get("locked", [])
    }
    for lid, oid in json.loads(run["stdout"]).items():
        assign[lid] = (oid, ranks[lid][oid])
    return run, quality(assign, data)


def bench_instance(
    name: str, data: dict[str, Any], repeat: int, workdir: Path, baselines: bool
) -> dict[str, Any]:
    """Measure the solver CLI and the baselines on one instance."""
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(data))
    out = workdir / f"{name}.result.json"
    runs = []
    for _ in range(repeat):
        run = run_cli_measured(["solve", str(path), "-o", str(out)], workdir)
        if run["code"] != 0:
            raise SystemExit(f"solver failed on {name}: {run['stderr']}")
        runs.append(run)
    result = json.loads(out.read_text())
    problem = parse_problem(data)
    inst = build_instance(problem)
    flow_arcs = inst.n_arcs
    if inst.hubs is not None:
        hubs = inst.hubs
        flow_arcs += hubs.arc_learner.size + hubs.member_offer.size + hubs.link_from.size
    pairs = build_instance(problem, hubs=False).n_arcs
    assign = {a["learner"]: (a["offer"], a["rank"]) for a in result["assignments"]}
    row: dict[str, Any] = {
        "name": name,
        "learners": len(data["learners"]),
        "offers": len(data["offers"]),
        "seats": sum(o["capacity"] for o in data["offers"]),
        "arcs": flow_arcs,
        "pairs": pairs,
        "employer_limits": len(data.get("employers", [])),
        "status": result["status"],
        "wall_s": [round(r["wall_s"], 2) for r in runs],
        "cpu_s": [round(r["cpu_s"], 2) for r in runs],
        "peak_mb": max(r["peak_mb"] for r in runs),
        "solve_seconds": result["summary"]["solve_seconds"],
        "quality": quality(assign, data),
        "mandated": result["summary"]["mandated"],
    }
    if baselines:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            g = greedy(json.loads(path.read_text()))
            times.append(time.perf_counter() - start)
        row["greedy"] = {"wall_s": [round(t, 2) for t in times], "quality": quality(g, data)}
        run, q = hr_allocation(path, data)
        row["hr"] = {"wall_s": round(run["wall_s"], 2), "peak_mb": round(run["peak_mb"]),
                     "quality": q}
    return row


ENGINE_SCRIPT = """
import json, sys, time
import solver.mip as mip
mip.ENGINE = sys.argv[1]
from solver import load_problem, solve
start = time.perf_counter()
result = solve(load_problem(sys.argv[2]))
print(json.dumps({"status": result["status"], "seconds": time.perf_counter() - start,
                  "placed": result["summary"]["placed"],
                  "mandated_placed": result["summary"]["mandated_placed"],
                  "rank_cost": result["summary"]["rank_cost"],
                  "gap": result["summary"].get("gap")}))
"""


def bench_engines(
    data: dict[str, Any], workdir: Path, repeat: int, name: str = "2k+limits",
    engines: tuple[str, ...] = ("SCIP", "CBC", "HIGHS", "CP_SAT"),
) -> list[dict[str, Any]]:
    """Solve an employer-limits instance with each OR-Tools backend (subprocess each)."""
    path = workdir / "engines.json"
    path.write_text(json.dumps(data))
    rows = []
    for engine in engines:
        times: list[float] = []
        outcome = "?"
        for _ in range(repeat):
            if outcome.startswith("feasible"):
                break  # a search that hit the time limit would only hit it again
            run = run_measured([sys.executable, "-c", ENGINE_SCRIPT, engine, str(path)],
                               timeout=300)
            if run["timeout"] or run["code"] != 0:
                outcome = "timeout" if run["timeout"] else f"crashed (exit {run['code']})"
                break
            info = json.loads(run["stdout"])
            times.append(info["seconds"])
            if info["status"] != "optimal":
                info["status"] += f" (gap {info['gap']:.3g})"
            outcome = (f"{info['status']}: mandated {info['mandated_placed']}, placed "
                       f"{info['placed']}, rank cost {info['rank_cost']}")
        rows.append({"engine": engine, "instance": name, "learners": len(data["learners"]),
                     "solve_s": times, "outcome": outcome})
        print(json.dumps(rows[-1]), flush=True)
    return rows


#: Runs the solver CLI from a given source tree with module attributes set (the ideas
#: compared in the limits table), then records this process's own peak RSS (VmHWM).
LIMITS_WRAPPER = """
import importlib, json, os, sys
sys.path.insert(0, sys.argv[1])
for module, name, value in json.loads(sys.argv[2]):
    setattr(importlib.import_module(module), name, value)
from solver.__main__ import main
code = main(sys.argv[3:])
with open("/proc/self/status") as fh:
    peak = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
with open(os.environ["SOLVER_PEAK_FILE"], "w") as out:
    out.write(peak)
sys.exit(code)
"""

#: The solver before this work (merge base of the solver-scale branch), the baseline.
BASELINE_COMMIT = "a7d859f"

#: (name, knobs) of the variants compared on the limits instances; knobs are
#: (module, attribute, value). The last variant is the solver as committed.
VARIANTS: list[tuple[str, list[tuple[str, str, Any]]]] = [
    ("baseline (explicit arcs, close-and-reflow, CBC per component)", []),
    ("hub network, one MIP", [("solver.allocate", "SPLIT_COMPONENTS", False),
                              ("solver.allocate", "REDUCED_COST_FIXING", False),
                              ("solver.flow", "CLOSE_HOPELESS", False)]),
    ("+ one MIP per component", [("solver.allocate", "REDUCED_COST_FIXING", False),
                                 ("solver.flow", "CLOSE_HOPELESS", False)]),
    ("+ close hopeless employers", [("solver.allocate", "REDUCED_COST_FIXING", False)]),
    ("+ reduced-cost fixing (committed)", []),
    ("committed, SCIP backend", [("solver.mip", "ENGINE", "SCIP")]),
    ("committed, CP-SAT backend", [("solver.mip", "ENGINE", "CP_SAT")]),
    ("committed, HiGHS backend", [("solver.mip", "ENGINE", "HIGHS")]),
]


def baseline_tree(workdir: Path) -> Path:
    """Extract the baseline solver (git archive of BASELINE_COMMIT) into workdir."""
    target = workdir / "baseline"
    target.mkdir(exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_COMMIT, "solver"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def run_variant(tree: Path, knobs: list[tuple[str, str, Any]], problem: Path,
                workdir: Path) -> dict[str, Any]:
    """Solve one problem file with one variant in a subprocess; measure and summarise."""
    peak_file = workdir / "peak.txt"
    os.environ["SOLVER_PEAK_FILE"] = str(peak_file)
    out = workdir / "result.json"
    run = run_measured([sys.executable, "-c", LIMITS_WRAPPER, str(tree), json.dumps(knobs),
                        "solve", str(problem), "-o", str(out)], timeout=1800)
    if peak_file.exists():
        run["peak_mb"] = int(peak_file.read_text()) / 1024
        peak_file.unlink()
    row = {"wall_s": round(run["wall_s"], 2), "cpu_s": round(run["cpu_s"], 2),
           "peak_mb": round(run["peak_mb"]), "code": run["code"]}
    if run["code"] == 0:
        summary = json.loads(out.read_text())
        row.update(status=summary["status"],
                   levels=[summary["summary"][k] for k in ("mandated_placed", "placed",
                                                           "rank_cost")],
                   gap=summary["summary"].get("gap"),
                   solve_s=summary["summary"]["solve_seconds"])
    else:
        row["error"] = run["stderr"].strip().splitlines()[-1:] if run["stderr"] else ""
    return row


def bench_limits(repeat: int, sizes: list[str], log: Path,
                 only: set[int] | None = None) -> list[dict[str, Any]]:
    """Compare the variants on the employer-limits instances, plus time-limit adherence."""
    instances = {
        "2k+limits": lambda: generate(2000, seed=2, side_constraints=True),
        "10k+region": lambda: generate(10000, seed=10007, region_limits=True),
        "50k+region": lambda: generate(50000, seed=50007, region_limits=True),
    }
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, log.open("a") as sink:
        work = Path(tmp)
        base = baseline_tree(work)
        plan: list[tuple[str, str, list[tuple[str, str, Any]], Path, float, int]] = []
        print(f"baseline tree: {base}", flush=True)
        for name in sizes:
            data = instances[name]()
            for limit in (120.0, 2.0, 20.0):
                if limit != 120.0 and name != "50k+region":
                    continue
                data["settings"]["time_limit_s"] = limit
                path = work / f"{name}-{limit:g}.json"
                path.write_text(json.dumps(data))
                for i, (variant, knobs) in enumerate(VARIANTS):
                    if only is not None and i not in only:
                        continue
                    final = variant.endswith("(committed)")
                    if limit != 120.0 and not (i == 0 or final):
                        continue  # time-limit runs: baseline and committed only
                    if name == "50k+region" and limit == 120.0 and i == 0:
                        continue  # the baseline ran 869 s at 13.4 GB without a proof
                    times = repeat if final or i == 0 else 1  # ideas and backends: once
                    plan.append((name, variant, knobs, path, limit, times))
        for name, variant, knobs, path, limit, times in plan:
            tree = base if variant.startswith("baseline") else ROOT
            runs = [run_variant(tree, knobs, path, work) for _ in range(times)]
            row = {"instance": name, "variant": variant, "limit_s": limit, "runs": runs}
            rows.append(row)
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            print(json.dumps(row), flush=True)
    return rows


def machine() -> str:
    """Describe the machine: cores, memory, CPU model."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores (nproc), {mem:.0f} GiB RAM, {model}"


def render_limits(rows: list[dict[str, Any]], command: str, started: str) -> str:
    """Render the limits subsection of the Solver section."""
    lines = [
        "### Employer limits at region scale",
        "",
        f"Machine: {machine()}, shared with other sessions (load average "
        f"{os.getloadavg()[0]:.1f} at the end). Python {platform.python_version()}, "
        f"OR-Tools 9.15. Run: {started} to {datetime.now(UTC):%H:%M} UTC. "
        f"Command: `{command}`.",
        "",
        "Instances (`bench/instances.py`): 2k+limits is `generate(2000, seed=2, "
        "side_constraints=True)` (half the employers limited); 10k+region and 50k+region are "
        "`generate(N, seed=N+7, region_limits=True)`: a third of employers have `min_if_any` "
        "2, half of those also `max_learners` 2-4; 1% of learners locked, K = 10, squared "
        "ranks. Each cell runs `python -m solver solve P.json -o R.json` in a subprocess "
        "(load, solve, write); wall is the median of the runs listed, peak is that process's "
        "VmHWM. The baseline is the solver before this branch (`git archive "
        f"{BASELINE_COMMIT} solver`), measured in the same run. Levels: mandated placed / "
        "placed / rank cost.",
        "",
        "Variants, each adding one idea to the one above (all exact): the baseline builds "
        "every fallback pair explicitly once an employer has a minimum and solves one CBC "
        "model per connected component that the flow left short; *hub network, one MIP* "
        "keeps the fallback hubs and employer nodes of the flow inside the integer model "
        "(general integer flows, a binary per employer with a minimum) and solves all short "
        "components in one model; *one MIP per component* solves independent components "
        "apart (the lexicographic optimum of a sum over independent parts is the sum of "
        "their optima), each warm-started by the better of two flow repairs (close short "
        "employers, or force them open); *close hopeless employers* removes, before the "
        "relaxation, employers without locks whose seats or cap are below their minimum; "
        "*reduced-cost fixing* uses the relaxation's potentials (Bellman-Ford on its "
        "residual network): where the incumbent keeps the relaxation's mandated and placed "
        "counts, a better allocation can only differ on arcs whose reduced cost is within "
        "the incumbent's gap, and only the parts of those arcs that hold a short employer "
        "go to the integer engine. The backends rows run the committed pipeline through "
        "another OR-Tools backend (`solver.mip.ENGINE`).",
        "",
        "| instance | variant | time limit s | status | wall s (median) | runs | CPU s | "
        "peak MB | levels | gap |",
        "|---|---|---:|---|---:|---|---:|---:|---|---:|",
    ]
    for r in rows:
        runs = r["runs"]
        ok = [x for x in runs if x["code"] == 0]
        walls = [x["wall_s"] for x in runs]
        first = ok[0] if ok else runs[0]
        status = first.get("status", f"exit {first['code']}")
        levels = " / ".join(f"{v:,}" for v in first.get("levels", [])) or first.get("error", "")
        gap = first.get("gap")
        lines.append(
            f"| {r['instance']} | {r['variant']} | {r['limit_s']:g} | {status} | "
            f"{statistics.median(walls):.2f} | {', '.join(f'{w:.2f}' for w in walls)} | "
            f"{statistics.median(x['cpu_s'] for x in runs):.2f} | "
            f"{max(x['peak_mb'] for x in runs):,} | {levels} | "
            f"{'' if gap is None else f'{gap:.4g}'} |"
        )
    lines.append("")
    return "\n".join(lines)


def write_subsection(text: str) -> None:
    """Replace (or append) the limits subsection inside the Solver section of RESULTS.md."""
    lines = RESULTS.read_text().splitlines()
    title = text.splitlines()[0]
    begin = lines.index("## Solver")
    end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    if title in lines[begin:end]:
        start = lines.index(title, begin)
        stop = next((i for i in range(start + 1, end)
                     if lines[i].startswith(("### ", "## "))), end)
    else:
        start = stop = end
    new = lines[:start] + text.rstrip("\n").splitlines() + [""] + lines[stop:]
    RESULTS.write_text("\n".join(new).rstrip("\n") + "\n")


def ratio(a: float | None, b: float | None) -> str:
    """Format a/b."""
    if a is None or b in (None, 0):
        return "n/a"
    return f"{a / b:.2f}x"


def render(rows: list[dict[str, Any]], command: str,
           engines: list[dict[str, Any]] | None = None) -> str:
    """Render the Solver section of RESULTS.md."""
    lines = [
        "## Solver",
        "",
        f"Machine: {platform.node()} ({os.cpu_count()} cores, shared with other engineers' "
        f"jobs; load average {os.getloadavg()[0]:.1f} at the end), Python "
        f"{platform.python_version()}. Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Command: `{command}`. Instances from `bench/instances.py` (learners clustered "
        "around UK postcode areas, Pareto-popular employers, eight sectors from tight (0.6 "
        "seats per learner) to ample (1.5), 30% mandated, DBS requirements, 1% locked, "
        "K = 10, squared rank cost).",
        "",
        "Solver: `python -m solver solve P.json -o R.json` as a subprocess (interpreter "
        "start, load, validate, solve, write). Wall and CPU seconds are the median of the "
        "runs (all runs listed); peak memory is that process's VmHWM. Allowed pairs: "
        "every (learner, offer) placement the rules allow; flow arcs: the arcs the flow "
        "actually gets once fallback pairs are grouped through grid hubs.",
        "",
        "| instance | learners | offers / seats | allowed pairs | flow arcs | status | "
        "wall s (median) | runs | CPU s | peak MB |",
        "|---|---:|---:|---:|---:|---|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['learners']:,} | {r['offers']:,} / {r['seats']:,} | "
            f"{r['pairs']:,} | {r['arcs']:,} | {r['status']} | "
            f"{statistics.median(r['wall_s']):.2f} | "
            f"{', '.join(f'{w:.2f}' for w in r['wall_s'])} | "
            f"{statistics.median(r['cpu_s']):.2f} | {r['peak_mb']:.0f} |"
        )
    lines += [
        "",
        "Quality (mandated placed, placed, first choices, top three, mean listed rank, "
        "fallback placements) against the baselines on the same instances. Greedy: first "
        "come, first served in file order, each learner takes the best listed seat left "
        "(in process, from JSON text to allocation). HR: `matching` 1.4.3 "
        "`HospitalResident`, resident-optimal, employers ranking mandated learners first, "
        f"then by distance (subprocess, capped at {HR_TIME_CAP_S} s). With Python's default "
        "recursion limit HR already failed at 10,000 learners (RecursionError in the "
        "library's deep copy of its object graph); the benchmark raises the limit and the "
        "thread stack for it. HR and greedy have no fallback, which is most of the gap in "
        "mandated learners placed.",
        "",
        "| instance | method | mandated placed | placed | 1st | top 3 | mean rank | "
        "fallback | wall s | mandated vs solver | placed vs solver | time vs solver |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "greedy" not in r:
            continue
        sq = r["quality"]
        s_wall = statistics.median(r["wall_s"])
        entries = [("solver", sq, s_wall), ("greedy", r["greedy"]["quality"],
                                            statistics.median(r["greedy"]["wall_s"]))]
        entries.append(("HR", r["hr"]["quality"], r["hr"]["wall_s"]))
        for method, q, wall in entries:
            if isinstance(q, str):
                lines.append(f"| {r['name']} | {method} | {q} | | | | | | {wall:.2f} | | | |")
                continue
            lines.append(
                f"| {r['name']} | {method} | {q['mandated_placed']:,} / {r['mandated']:,} | "
                f"{q['placed']:,} | {q['first_choice']:,} | {q['top3']:,} | "
                f"{q['mean_rank']} | {q['fallback']:,} | {wall:.2f} | "
                f"{ratio(q['mandated_placed'], sq['mandated_placed'])} | "
                f"{ratio(q['placed'], sq['placed'])} | {ratio(wall, s_wall)} |"
            )
    if engines:
        lines += [
            "",
            "Engine for employer limits (`min_if_any`; `max_learners` is inside the flow): "
            "the same level-by-level model and warm start through each OR-Tools backend "
            "(`solver.mip.ENGINE`), 60 s limit, in-process solve() seconds (median of the "
            "runs; a run stopped by the limit is not repeated). The 5k instance is "
            "`generate(5000, seed=3, side_constraints=True)`, beyond the targets, to see "
            "how each backend behaves when the limit stops it.",
            "",
            "| instance | backend | solve s (median) | runs | outcome |",
            "|---|---|---:|---|---|",
        ]
        for e in engines:
            med = f"{statistics.median(e['solve_s']):.2f}" if e["solve_s"] else "-"
            runs = ", ".join(f"{t:.2f}" for t in e["solve_s"])
            lines.append(f"| {e.get('instance', '2k+limits')} | {e['engine']} | {med} | "
                         f"{runs} | {e['outcome']} |")
    lines += ["", "Targets (wall time is what the table above measured on the shared machine; "
              "CPU time is the solver process's own user + system time):", ""]
    by_name = {r["name"]: r for r in rows}
    for name, label, limit in (("10k", "10,000 learners end to end", 3.0),
                               ("50k", "50,000 learners end to end", 30.0),
                               ("2k+limits", "2,000 learners with employer limits, proven", 10.0)):
        r = by_name.get(name)
        if r is None:
            continue
        wall, cpu = statistics.median(r["wall_s"]), statistics.median(r["cpu_s"])
        extra = f", peak {r['peak_mb']:.0f} MB (target < 2048)" if name == "50k" else ""
        lines.append(
            f"- {label}: target < {limit:g} s; wall {wall:.2f} s "
            f"({'met' if wall < limit else 'missed'}), CPU {cpu:.2f} s "
            f"({'met' if cpu < limit else 'missed'}), status {r['status']}{extra}."
        )
    lines += [
        "",
        "How: the core is one OR-Tools `SimpleMinCostFlow` whose integer costs encode the "
        "lexicographic objective (see `solver/objective.py` for the weights and the int64 range "
        "check at 50,000 learners with a repair run), built with numpy arrays. Fallback "
        "eligibility (every offer a mandated learner can reach) is the bulk of the allowed "
        "pairs, so it goes through grid hubs: a learner links to a cell of offers when the "
        "triangle inequality proves every offer in it within reach, to one super hub per "
        "sector when it reaches all of them, and pair by pair only in cells it partly "
        "reaches; the flow optimum is the same (tested against the explicit arcs). "
        "`max_learners` is laminar (one employer per offer), so it is an employer node in "
        "the same flow. Only `min_if_any` needs the integer engine, on the same hub network "
        "(see the subsection on employer limits below): the flow is the relaxation, "
        "employers that can never reach their minimum are closed first (exact), an "
        "incumbent repairs each component's flow, reduced-cost fixing keeps only the arcs "
        "that a better allocation could change, and each independent part is a level-by-"
        "level CBC model.",
        "",
        "Rank histograms of the solver (rank: learners; K+1 = fallback):",
        "",
    ]
    for r in rows:
        lines.append(f"- {r['name']}: {r['quality']['histogram']}")
    lines.append("")
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace (or add) the Solver section of bench/RESULTS.md, leaving other sections alone."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = text.splitlines()
    try:
        begin = lines.index("## Solver")
    except ValueError:
        new = text.rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = "\n".join(lines[end:])
        new = "\n".join(lines[:begin]) + "\n" + section + ("\n" + tail if tail else "")
    RESULTS.write_text(new.rstrip("\n") + "\n")


def main() -> None:
    """Generate instances, measure, print and record the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--side", type=int, default=2000,
                        help="learners in the employer-limits instance (0 to skip)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--engines", action="store_true",
                        help="also compare OR-Tools backends on the limits instance")
    parser.add_argument("--engines-at", type=int, metavar="N",
                        help="only compare SCIP and CBC on an N-learner limits instance")
    parser.add_argument("--limits", metavar="INSTANCES",
                        help="compare the employer-limits variants on these instances "
                             "(e.g. 2k+limits,10k+region,50k+region) and time-limit adherence")
    parser.add_argument("--variants", metavar="I,J",
                        help="with --limits: only these variants (0-based, in VARIANTS order)")
    parser.add_argument("--limits-log", default="bench/limits.jsonl",
                        help="JSON lines of the limits runs (appended)")
    parser.add_argument("--render-limits", metavar="LOG",
                        help="only re-render the limits subsection from a JSON-lines log")
    parser.add_argument("--hr", help=argparse.SUPPRESS)
    parser.add_argument("--render", metavar="LOG",
                        help="only re-render RESULTS.md from the JSON lines a run printed")
    args = parser.parse_args()
    if args.hr:
        hospital_resident(args.hr)
        return
    if args.limits or args.render_limits:
        started = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
        if args.limits:
            only = None if not args.variants else {int(v) for v in args.variants.split(",")}
            rows = bench_limits(args.repeat, args.limits.split(","), Path(args.limits_log), only)
        else:
            rows = [json.loads(line) for line in Path(args.render_limits).read_text()
                    .splitlines() if line.startswith("{")]
        command = "python bench/solver.py " + " ".join(sys.argv[1:])
        section = render_limits(rows, command, started)
        print(section)
        if not args.no_write:
            write_subsection(section)
        return
    if args.engines_at:
        with tempfile.TemporaryDirectory() as tmp:
            data = generate(args.engines_at, seed=3, side_constraints=True)
            bench_engines(data, Path(tmp), 1, f"{args.engines_at // 1000}k+limits",
                          ("SCIP", "CBC"))
        return
    if args.render:
        records = [json.loads(line) for line in Path(args.render).read_text().splitlines()
                   if line.startswith("{")]
        section = render([r for r in records if "name" in r],
                         "python bench/solver.py --repeat 3 --engines",
                         [r for r in records if "engine" in r] or None)
        print(section)
        if not args.no_write:
            write_section(section)
        return
    command = "python bench/solver.py " + " ".join(sys.argv[1:])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",") if s]:
            rows.append(bench_instance(f"{n // 1000}k", generate(n, seed=n), args.repeat,
                                       Path(tmp), True))
            print(json.dumps(rows[-1]), flush=True)
        engines = None
        if args.side:
            data = generate(args.side, seed=2, side_constraints=True)
            rows.append(bench_instance(f"{args.side // 1000}k+limits", data, args.repeat,
                                       Path(tmp), False))
            print(json.dumps(rows[-1]), flush=True)
            if args.engines:
                engines = bench_engines(data, Path(tmp), args.repeat)
    section = render(rows, command.strip(), engines)
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main()
