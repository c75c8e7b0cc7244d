"""Simulated labelers over HTTP against gunicorn + PostgreSQL, or the embedded default.

    /work/main/.venv/bin/python bench/annotation_load.py      # about 3 minutes; --help for options
    /work/main/.venv/bin/python bench/annotation_load.py --sqlite --sizes 10000 --levels 1,16

--one-trip: each labeler calls `next` once and then only POST judgment?next=1, whose answer
carries the next assignment ("sub" columns: that one call; "next": the first call only).

--sqlite serves the embedded default as scripts/demo.sh does: SQLite (a file in a temp dir) and
gunicorn with two gthread workers of 4 threads; there is no database process, so "db CPU" is 0
(SQLite runs inside gunicorn: its time is in "app CPU"), and step 5 is left to bench/pick_scaling.py.

What it does, top to bottom (every step prints):
  1. (re)creates a throwaway PostgreSQL database (default pw_bench_annotation) and migrates it;
  2. creates 64 labeler users with API tokens, and one project per size (10,000 and 100,000
     comparisons, overlap_k=3), generated inside the database;
  3. counts SQL queries per `next` and per `submit` call in-process (CaptureQueriesContext around
     a Django test client request, BEGIN/COMMIT included) on each project: the count must not grow
     with size;
  4. starts gunicorn (gthread workers) on 127.0.0.1:<free port> and, for each size, runs 1, 16 and
     64 concurrent labelers (threads in two client processes, keep-alive http.client connections)
     that loop GET next -> POST judgment for --duration seconds; prints judgments/s, p50/p99 of
     both calls, and the CPU the server (gunicorn, PostgreSQL backends) spent per judgment. Twice:
     labelers that never pause (a saturation test: latency there is mostly queueing for the CPU)
     and labelers that pause 1 s per pair (still 10-30x faster than a person reads);
  5. EXPLAIN ANALYZEs the assignment query after the load and with half of each project complete;
  6. stops gunicorn and drops the database (--keep-db keeps it).

Traffic goes to 127.0.0.1 only. The load average printed with every row says how much of the
2-core machine the run really had: other work on it shows up as latency, not as CPU per judgment.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OVERLAP_K = 3


# --- setup -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sqlite", action="store_true", help="the embedded default: SQLite, 2 workers x 4 threads"
    )
    p.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    p.add_argument("--db", default="pw_bench_annotation", help="database to (re)create and drop")
    p.add_argument("--sizes", default="10000,100000", help="comparisons per project")
    p.add_argument("--levels", default="1,16,64", help="concurrent labelers")
    p.add_argument("--duration", type=float, default=8.0, help="seconds per level")
    p.add_argument("--pauses", default="0,1", help="seconds each labeler pauses per pair; 0 = saturation")
    p.add_argument("--workers", type=int, help="gunicorn worker processes (4; --sqlite: 2)")
    p.add_argument("--threads", type=int, help="threads per gunicorn worker (4)")
    p.add_argument("--client-procs", type=int, default=2, help="processes that run the labeler threads")
    p.add_argument("--explain", action="store_true", help="print the full assignment query plans")
    p.add_argument(
        "--one-trip",
        action="store_true",
        help="one request per judgment: POST judgment?next=1 carries the next",
    )
    p.add_argument("--keep-db", action="store_true")
    args = p.parse_args()
    args.workers = args.workers or (2 if args.sqlite else 4)
    args.threads = args.threads or 4
    return args


def recreate_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(database_url: str | None, data_dir: str) -> None:
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:  # the embedded default: SQLite in the data dir
        os.environ.pop("DATABASE_URL", None)
    os.environ["PAIRWISE_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def make_labelers(n: int) -> list[tuple[int, str]]:
    """n labeler users with tokens: [(user id, token key)]."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    password = make_password("bench")  # hashed once: hashing is slow by design
    users = User.objects.bulk_create([User(username=f"bench{i:03d}", password=password) for i in range(n)])
    Group.objects.get(name="labelers").user_set.add(*users)
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    return [(t.user_id, t.key) for t in tokens]


def load_project(size: int, labeler_ids: list[int]) -> int:
    """A project with `size` comparisons, generated inside the database (pick_scaling.load_project:
    one INSERT ... SELECT per table; the ORM's bulk_create needs minutes for 1M rows). Returns its id."""
    from pick_scaling import load_project as load

    return load(size, labeler_ids, name=f"bench-{size}")


# --- in-process query counts -----------------------------------------------------------------------


def count_queries(project_id: int, token: str) -> tuple[int, int, str]:
    """Queries for one fresh `next` and one `submit`, through the whole Django stack."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    with CaptureQueriesContext(connection) as nxt:
        body = client.get(f"/api/projects/{project_id}/next/").json()
    # The pick: the statement ordered by priority (SQLite has no SKIP LOCKED to look for).
    pick = next(q["sql"] for q in nxt.captured_queries if "priority" in q["sql"] and "ORDER BY" in q["sql"])
    assignment_id = body["assignment"]["id"]
    with CaptureQueriesContext(connection) as sub:
        response = client.post(
            f"/api/assignments/{assignment_id}/judgment/",
            {"choice": "A", "client_id": uuid.uuid4().hex},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    return len(nxt), len(sub), pick


def explain(sql: str, repeat: int = 5) -> tuple[float, str]:
    """EXPLAIN ANALYZE the assignment query (rolled back: it takes row locks); the median
    execution time of `repeat` runs, as one run on a busy machine is mostly noise."""
    from django.db import connection, transaction

    times, plan = [], ""
    for _ in range(repeat):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)
        times.append(float(plan.rsplit("Execution Time:", 1)[1].split("ms")[0]))
    return statistics.median(times), plan


def complete_first_half(project_id: int) -> int:
    from django.db import connection

    from annotate.models import Comparison

    first_half = Comparison.objects.filter(project_id=project_id).order_by("id")[
        : Comparison.objects.filter(project_id=project_id).count() // 2
    ]
    n = Comparison.objects.filter(pk__in=first_half.values("pk")).update(
        judgment_count=OVERLAP_K, is_open=False
    )
    with connection.cursor() as cursor:
        # A project fills over hours and autovacuum tidies up meanwhile; this one-shot update
        # would otherwise leave 50k dead index entries for the pick to step over.
        cursor.execute(f"VACUUM ANALYZE {Comparison._meta.db_table}")
    return n


# --- gunicorn --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int, env: dict) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "gunicorn", "pairwise.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
        "--keep-alive", "30", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/projects/")  # 401 without a token: any answer means it is up
            if conn.getresponse().status < 500:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not come up within 60 s")


def stop_gunicorn(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- labelers (run in client processes: stdlib only, no Django) ------------------------------------


def _labeler(
    port: int,
    project_id: int,
    token: str,
    start_at: float,
    stop_at: float,
    pause: float,
    one_trip: bool,
    out: dict,
) -> None:
    import random

    rng = random.Random(token)
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict | None, float]:
        payload = json.dumps(body).encode() if body is not None else None
        h = headers | ({"Content-Type": "application/json"} if payload else {})
        t0 = time.perf_counter()
        conn.request(method, path, body=payload, headers=h)
        response = conn.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - t0
        return response.status, (json.loads(raw) if raw else None), elapsed

    call("GET", "/api/projects/")  # open the keep-alive connection before the clock starts
    # Paced labelers start spread over one pause, as people do, not all in the same millisecond.
    time.sleep(max(0.0, start_at - time.time()) + rng.uniform(0, pause))
    # --one-trip: `next` once, then each judgment's answer carries the next assignment (?next=1).
    body = None
    while time.time() < stop_at:
        if not one_trip or body is None:
            status, body, t = call("GET", f"/api/projects/{project_id}/next/")
            out["next"].append(t)
            if status != 200:
                out["errors"].append(f"next {status}")
                body = None
                continue
        if body["assignment"] is None:
            out["exhausted"] += 1
            break
        status, answer, t = call(
            "POST",
            f"/api/assignments/{body['assignment']['id']}/judgment/" + ("?next=1" if one_trip else ""),
            {"choice": "AB"[len(out["submit"]) % 2], "strength": 2, "client_id": uuid.uuid4().hex},
        )
        out["submit"].append(t)
        body = answer.get("next") if one_trip and answer else None
        if status == 201:
            out["judgments"] += 1
        else:
            out["errors"].append(f"submit {status}")
        if pause:
            time.sleep(rng.uniform(0.5, 1.5) * pause)  # reading the next pair
    conn.close()


def _client_process(
    port: int,
    project_id: int,
    tokens: list[str],
    start_at: float,
    stop_at: float,
    pause: float,
    one_trip: bool,
) -> dict:
    import threading

    outs = [{"next": [], "submit": [], "errors": [], "judgments": 0, "exhausted": 0} for _ in tokens]
    threads = [
        threading.Thread(
            target=_labeler, args=(port, project_id, tok, start_at, stop_at, pause, one_trip, out)
        )
        for tok, out in zip(tokens, outs, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    merged = {"next": [], "submit": [], "errors": [], "judgments": 0, "exhausted": 0}
    for out in outs:
        for key in ("next", "submit", "errors"):
            merged[key] += out[key]
        merged["judgments"] += out["judgments"]
        merged["exhausted"] += out["exhausted"]
    return merged


def run_level(
    pool,
    port: int,
    project_id: int,
    tokens: list[str],
    procs: int,
    duration: float,
    pause: float,
    one_trip: bool = False,
) -> dict:
    start_at = time.time() + 1.5  # every client process connected and waiting
    stop_at = start_at + duration
    chunks = [tokens[i::procs] for i in range(procs) if tokens[i::procs]]
    results = pool.starmap(
        _client_process, [(port, project_id, c, start_at, stop_at, pause, one_trip) for c in chunks]
    )
    merged = {"next": [], "submit": [], "errors": [], "judgments": 0, "exhausted": 0}
    for r in results:
        for key in ("next", "submit", "errors"):
            merged[key] += r[key]
        merged["judgments"] += r["judgments"]
        merged["exhausted"] += r["exhausted"]
    merged["seconds"] = duration
    return merged


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """user+system CPU seconds of each process, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return found


def server_pids(gunicorn_pid: int, db: str) -> tuple[list[int], list[int]]:
    """(gunicorn master + workers, PostgreSQL backends serving the bench database)."""
    from django.db import connection

    if connection.vendor == "sqlite":
        return [gunicorn_pid, *_children(gunicorn_pid)], []

    workers = [gunicorn_pid, *_children(gunicorn_pid)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db]
        )
        backends = [row[0] for row in cursor.fetchall()]
    return workers, backends


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def run_and_report(
    pool, server_pid: int, args, project_id: int, size: int, tokens: list[str], pause: float
) -> str:
    app, db = server_pids(server_pid, args.db)
    before = _cpu_by_pid(app), _cpu_by_pid(db)
    r = run_level(pool, args.port, project_id, tokens, args.client_procs, args.duration, pause, args.one_trip)
    app, db = server_pids(server_pid, args.db)
    per = max(r["judgments"], 1) / 1000  # CPU ms per judgment (one next + one submit)
    app_ms = cpu_delta(before[0], _cpu_by_pid(app)) / per
    db_ms = cpu_delta(before[1], _cpu_by_pid(db)) / per
    row = (
        f"{size:>11,} {len(tokens):>8} {r['judgments']:>9} {r['judgments'] / r['seconds']:>7.1f} "
        f"{pct(r['next'], 50):>6.1f}ms {pct(r['next'], 99):>6.1f}ms "
        f"{pct(r['submit'], 50):>6.1f}ms {pct(r['submit'], 99):>6.1f}ms {len(r['errors']):>6} "
        f"{app_ms:>7.1f}ms {db_ms:>7.1f}ms {os.getloadavg()[0]:>5.1f}"
    )
    if r["errors"]:
        row += f"\n      errors: {sorted(set(r['errors']))[:5]}"
    if r["exhausted"]:
        row += f"\n      {r['exhausted']} labeler(s) ran out of comparisons"
    return row


def release_leases(project_id: int) -> None:
    from annotate.models import Project
    from annotate.services import leases_release

    leases_release(project=Project.objects.get(pk=project_id))


# --- main ------------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    levels = [int(s) for s in args.levels.split(",")]
    pauses = [float(s) for s in args.pauses.split(",")]
    database_url = None if args.sqlite else f"{args.server}/{args.db}"
    data_dir = tempfile.mkdtemp(prefix="pw-bench-")
    Path(data_dir, "staticfiles").mkdir()  # whitenoise warns on every process start otherwise
    t_start = time.monotonic()

    if args.sqlite:
        print(f"== SQLite in {data_dir}: migrate", flush=True)
    else:
        print(f"== database {args.db}: create and migrate", flush=True)
        recreate_database(args.server, args.db)
    setup_django(database_url, data_dir)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    labelers = make_labelers(max(levels) + 1)  # the extra one is for the in-process counts
    projects: dict[int, int] = {}
    for size in sizes:
        t0 = time.monotonic()
        projects[size] = load_project(size, [uid for uid, _ in labelers])
        print(f"   loaded {size:,} comparisons in {time.monotonic() - t0:.1f} s", flush=True)

    print("== SQL queries per call (in-process, whole request, CaptureQueriesContext)", flush=True)
    picks: dict[int, str] = {}
    for size in sizes:
        n_next, n_submit, picks[size] = count_queries(projects[size], labelers[-1][1])
        print(f"   {size:>7,} comparisons: next {n_next} queries, submit {n_submit} queries")
        release_leases(projects[size])
    connection.close()

    env = os.environ | {"PAIRWISE_DATA_DIR": data_dir, "DB_CONN_MAX_AGE": "600", "SQLITE_CONN_MAX_AGE": "600"}
    if database_url:
        env["DATABASE_URL"] = database_url
    port = args.port = free_port()
    print(
        f"== gunicorn gthread {args.workers} workers x {args.threads} threads on 127.0.0.1:{port}; "
        f"{args.duration:g} s per level",
        flush=True,
    )
    server = start_gunicorn(port, args.workers, args.threads, env)
    try:
        tokens = [tok for _, tok in labelers[:-1]]
        with multiprocessing.get_context("spawn").Pool(args.client_procs) as pool:
            for pause in pauses:
                title = (
                    "labelers never pause: a saturation test, latency includes queueing"
                    if not pause
                    else f"labelers pause {pause:g} s per pair (reading; a person takes 10-30 s)"
                )
                print(f"-- {title}")
                header = (
                    f"{'comparisons':>11} {'labelers':>8} {'judgments':>9} {'judg/s':>7} "
                    f"{'next p50':>8} {'next p99':>8} {'sub p50':>8} {'sub p99':>8} {'errors':>6} "
                    f"{'app CPU':>9} {'db CPU':>9} {'load':>5}"
                )
                print(header + "\n" + "-" * len(header), flush=True)
                for size in sizes:
                    for level in levels:
                        print(
                            run_and_report(
                                pool, server.pid, args, projects[size], size, tokens[:level], pause
                            )
                        )
                        release_leases(projects[size])
            print(
                "   app/db CPU: CPU time of the gunicorn processes / of the PostgreSQL backends per judgment\n"
                "   (one next + one submit); load: the machine's 1-minute load average (2 cores)."
            )
    finally:
        stop_gunicorn(server)

    if args.sqlite:
        print("== the pick's plan and time on SQLite: bench/pick_scaling.py --sqlite")
        print(f"== done in {time.monotonic() - t_start:.0f} s (gunicorn stopped; {data_dir} left for a look)")
        return
    print("== the assignment query (EXPLAIN ANALYZE, the in-process labeler), after the load and with half")
    print("   of each project's comparisons complete (judgment_count set to k, then VACUUM ANALYZE):")
    print("   complete items leave the pick's partial index (cmp_open_pick_idx): the walk does not grow")
    for size in sizes:
        ms, plan = explain(picks[size])
        half = complete_first_half(projects[size])
        ms_half, plan_half = explain(picks[size])
        print(
            f"   {size:>7,} comparisons: {ms:.2f} ms after the load, {ms_half:.2f} ms with {half:,} complete"
        )
        if args.explain:
            print("      " + plan_half.replace("\n", "\n      "))
    connection.close()
    if not args.keep_db:
        drop_database(args.server, args.db)
    print(
        f"== done in {time.monotonic() - t_start:.0f} s (gunicorn stopped, database {'kept' if args.keep_db else 'dropped'})"
    )


if __name__ == "__main__":
    main()
