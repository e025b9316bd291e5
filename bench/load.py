"""Load benchmark: learners saving choices and officers opening the results page, against
gunicorn on loopback, first with the app idle and then while an allocation run is solving.

    .venv/bin/python bench/load.py --learners 50000 --users 20 --seconds 60
    make bench-load-pg BENCH_ARGS="--learners 50000"   # PostgreSQL + Redis + a Celery worker

With `--postgres` the database is the throwaway PostgreSQL server of
scripts/pg-test-server.sh (TEST_DATABASE_URL), and with `--celery` the run is solved by a
Celery worker process over the Redis of scripts/redis-test-server.sh (TEST_REDIS_URL), as in
production; without them, SQLite and a thread of the web process.

Seeds `flask seed demo --learners N` into a SQLite file once (kept in /tmp for later runs),
gives a few hundred seeded learners a password, serves the app with gunicorn on a free
127.0.0.1 port, runs locust headless (bench/locustfile.py) twice and prints p50/p95 latency,
throughput and errors per request type as a Markdown table. Every request goes to loopback.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SIGNED_IN_LEARNERS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: Set by --postgres / --celery: the database URL and the broker URL.
BACKENDS: dict[str, str] = {}


def app_env(database: Path) -> dict[str, str]:
    env = {**os.environ,
           "PLACEMENTS_SQLALCHEMY_DATABASE_URI": BACKENDS.get("database")
           or f"sqlite:///{database}",
           "PLACEMENTS_SECRET_KEY": "load-benchmark", "PLACEMENTS_RATELIMIT_ENABLED": "false",
           "PLACEMENTS_JOB_WORKER": '"celery"' if "broker" in BACKENDS else '"thread"',
           "FLASK_APP": "wsgi.py"}
    for variable in ("DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(variable, None)
    if "broker" in BACKENDS:
        env["CELERY_BROKER_URL"] = BACKENDS["broker"]
    return env


def seed(database: Path, learners: int) -> float:
    """Create and seed the database unless an earlier run left it; return the seconds taken."""
    marker = database.with_suffix(".seeded")
    if marker.exists() and "database" not in BACKENDS:
        return 0.0
    database.unlink(missing_ok=True)
    started = time.perf_counter()
    flask = [sys.executable, "-m", "flask"]
    for command in (["db", "upgrade", "heads"],
                    ["seed", "demo", "--learners", str(learners), "--quiet"]):
        subprocess.run(flask + command, cwd=ROOT, env=app_env(database), check=True)
    marker.write_text("ok")
    return time.perf_counter() - started


def prepare(database: Path) -> tuple[int, list[str]]:
    """Give a sample of learners the demo password; return the round id and their e-mails."""
    os.environ.update({k: v for k, v in app_env(database).items() if k.startswith("PLACE")})
    sys.path.insert(0, str(ROOT))
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from placements import create_app
    from placements.extensions import db
    from placements.models import AllocationRound, User

    app = create_app()
    with app.app_context():
        round_id = db.session.scalar(sa.select(sa.func.min(AllocationRound.id)))
        emails = [f"learner{i:05d}@demo.placements.test"
                  for i in range(2, 2 + SIGNED_IN_LEARNERS)]
        db.session.execute(sa.update(User).where(User.email.in_(emails)).values(
            password_hash=generate_password_hash("placements-demo", method="pbkdf2:sha256:1000")))
        db.session.commit()
        db.engine.dispose()
    return round_id, emails


def wait_for(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.2)


def locust(base: str, users: int, seconds: int, prefix: Path, env: dict[str, str]) -> dict:
    subprocess.run(
        [str(VENV_BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
         "--host", base, "-u", str(users), "-r", str(max(1, users // 2)),
         "--run-time", f"{seconds}s", "--csv", str(prefix), "--only-summary",
         "--loglevel", "WARNING", "--exit-code-on-error", "0"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
        stderr=open(f"{prefix}.log", "w"))  # noqa: SIM115 - closed with the process
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


class Officer:
    """A plain HTTP session for starting a run and watching it."""

    def __init__(self, base: str) -> None:
        import http.cookiejar

        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=120) as response:
            return response.read().decode()

    def post(self, path: str, data: dict[str, str]) -> str:
        from urllib.parse import urlencode

        with self.opener.open(self.base + path, data=urlencode(data).encode(),
                              timeout=300) as response:
            return response.geturl()

    def token(self, path: str) -> str:
        page = self.get(path)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page)
        return match.group(1)

    def sign_in(self) -> None:
        self.post("/auth/login", {"email": "officer@demo.placements.test",
                                  "password": "placements-demo",
                                  "csrf_token": self.token("/auth/login")})

    def start_run(self, round_id: int) -> str:
        token = self.token(f"/officer/rounds/{round_id}")
        url = self.post(f"/officer/rounds/{round_id}/runs", {"csrf_token": token})
        assert "/runs/" in url, f"the run did not start: {url}"
        return url.removeprefix(self.base)

    def status(self, run_path: str) -> str:
        import json

        return json.loads(self.get(run_path + "/progress.json")).get("status", "?")


def row(name: str, idle: dict, busy: dict) -> str:
    def cells(stats: dict) -> str:
        s = stats.get(name)
        if s is None:
            return "– | – | – | –"
        return (f"{int(s['Request Count'])} | {int(s['Failure Count'])} | "
                f"{float(s['50%']):.0f} | {float(s['95%']):.0f}")

    ratio = "–"
    if name in idle and name in busy and float(idle[name]["95%"]):
        ratio = f"{float(busy[name]['95%']) / float(idle[name]['95%']):.1f}x"
    return f"| {name} | {cells(idle)} | {cells(busy)} | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=20, help="concurrent locust users")
    parser.add_argument("--seconds", type=int, default=60, help="length of each phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--postgres", action="store_true",
                        help="use TEST_DATABASE_URL (scripts/pg-test-server.sh)")
    parser.add_argument("--celery", action="store_true",
                        help="solve in a Celery worker over TEST_REDIS_URL "
                             "(scripts/redis-test-server.sh)")
    args = parser.parse_args()
    if args.postgres:
        BACKENDS["database"] = os.environ["TEST_DATABASE_URL"]
    if args.celery:
        BACKENDS["broker"] = os.environ["TEST_REDIS_URL"]
    database = args.db or Path(f"/tmp/placements-load-{args.learners}.sqlite")
    out = Path("/tmp/placements-load-results")
    out.mkdir(exist_ok=True)

    seeded = seed(database, args.learners)
    round_id, learners = prepare(database)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = app_env(database)
    server = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "--workers", str(args.workers), "--threads",
         str(args.threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "wsgi:app"], cwd=ROOT, env=env)
    worker = subprocess.Popen(
        [str(VENV_BIN / "celery"), "--app", "placements.tasks", "worker", "--pool", "solo",
         "--concurrency", "1", "--loglevel", "WARNING"], cwd=ROOT, env=env) \
        if args.celery else None
    try:
        wait_for(f"{base}/auth/login", server)
        load_env = {**os.environ, "LOAD_LEARNERS": ",".join(learners),
                    "LOAD_ROUND_ID": str(round_id)}
        idle = locust(base, args.users, args.seconds, out / "idle", load_env)
        officer = Officer(base)
        officer.sign_in()
        run_path = officer.start_run(round_id)
        started = time.monotonic()
        busy = locust(base, args.users, args.seconds, out / "allocating", load_env)
        status_after = officer.status(run_path)
        deadline = time.monotonic() + 900
        while officer.status(run_path) in ("queued", "running") and \
                time.monotonic() < deadline:
            time.sleep(2)
        run_seconds = time.monotonic() - started
        final = officer.status(run_path)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)

    backend = ("postgresql" if args.postgres else "sqlite") + (
        " + celery worker" if args.celery else " + thread worker")
    print(f"\nlearners={args.learners} users={args.users} seconds={args.seconds} "
          f"gunicorn={args.workers}x{args.threads} seed={seeded:.0f}s {backend}")
    print(f"allocation run: {status_after} at the end of the loaded phase; {final} after "
          f"{run_seconds:.0f}s\n")
    print("| request | idle: n | errors | p50 ms | p95 ms | allocating: n | errors | p50 ms "
          "| p95 ms | p95 ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("save choices", "choices page", "results page", "sign in", "Aggregated"):
        print(row(name, idle, busy))


if __name__ == "__main__":
    main()
