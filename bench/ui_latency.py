"""Keypress -> next pair painted on the ranking screen, in Chromium, against the dev server on PostgreSQL.

    python bench/ui_latency.py                       # postgres://postgres@127.0.0.1:5432/pw_ui_bench
    python bench/ui_latency.py --database-url postgres://user@host:5432/somedb --pairs 200 --think-ms 250

The bench creates the database if it is missing, migrates it, seeds a fresh project (one labeler,
Markdown responses of 1-3k characters), starts `manage.py runserver` on a free 127.0.0.1 port, logs
in through the login form in Debian's Chromium and judges `--pairs` pairs with the keyboard,
`--think-ms` apart (a labeler reads for seconds; this is far quicker, so the prefetch is stressed).

What is measured, in the page, by a script the bench injects (the app is not instrumented):
from the keydown event's timestamp (when the browser received the key) until the frame after the
new pair is in the DOM: a MutationObserver sees the pair's id change, a requestAnimationFrame
callback runs before that frame is drawn, and a message posted from it lands once the frame has
been painted. Also printed: how the judgments' background requests fared (resource timing), and a
check that the database holds exactly the judgments made.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pw_ui_bench"
CHROMIUM = os.environ.get("PAIRWISE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]

MEASURE = """
window.__lat = [];      // keydown timestamp -> the frame with the new pair painted
window.__parts = [];    // [input delay, handler, wait for frame, frame to painted]
let t0 = null, tHandler = null;
window.addEventListener('keydown', e => {
    if (!e.repeat) { t0 = e.timeStamp; tHandler = performance.now(); }
}, true);
const channel = new MessageChannel();
channel.port1.onmessage = e => {
    const [start, handler, dom, frame] = e.data, now = performance.now();
    window.__lat.push(now - start);
    window.__parts.push([handler - start, dom - handler, frame - dom, now - frame]);
};
new MutationObserver(() => {
    const pair = document.getElementById('pair');
    if (t0 === null || !pair || !pair.dataset.assignmentId) return;
    const start = t0, handler = tHandler, dom = performance.now();
    t0 = null;
    requestAnimationFrame(() => channel.port2.postMessage([start, handler, dom, performance.now()]));
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-assignment-id']});
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


PARAGRAPHS = [
    "The short answer: **yes**, but only if the input is sorted first. Here is why, step by step.",
    "1. Read the file line by line.\n2. Parse each record and keep the valid ones.\n3. Sort by the key.\n"
    "4. Merge neighbours that overlap.",
    "```python\ndef merge(intervals):\n    intervals.sort()\n    out = [intervals[0]]\n    for start, end in "
    "intervals[1:]:\n        if start <= out[-1][1]:\n            out[-1][1] = max(out[-1][1], end)\n"
    "        else:\n            out.append([start, end])\n    return out\n```",
    "| case | time | memory |\n|---|---|---|\n| sorted | O(n) | O(1) |\n| unsorted | O(n log n) | O(n) |",
    "> Note: the standard library already has `bisect` for the search part, so you rarely need to write "
    "it yourself.",
    "- Edge cases: an empty list, a single interval, intervals that only touch.\n- Test each of them.",
    "In practice the difference matters only above a few million records; below that, clarity wins and "
    "the simple version is what a reviewer will want to read.",
]


def seed(pairs: int) -> tuple[int, str, str]:
    """A fresh project with `pairs` + 40 comparisons and one labeler. Returns (project id, user, password)."""
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pairwise.settings")
    django.setup()
    from django.contrib.auth.models import User
    from django.db import connections, transaction

    from annotate.models import Comparison, Project, Prompt, Response, content_hash

    stamp = time.strftime("%Y%m%d-%H%M%S")
    username, password = f"bench-{stamp}", "bench-password"
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password)
        project = Project.objects.create(name=f"UI latency {stamp}", overlap_k=1, lease_seconds=1800)
        project.labelers.add(user)
        for i in range(pairs + 40):
            messages = [{"role": "user", "content": f"Question {i}: how do I merge overlapping intervals?"}]
            prompt = Prompt.objects.create(
                project=project, messages=messages, content_hash=content_hash(messages)
            )
            texts = [
                "\n\n".join(PARAGRAPHS[(i + j + side) % len(PARAGRAPHS)] for j in range(3 + (i + side) % 5))
                + f"\n\n(answer {i}{'ab'[side]})"
                for side in (0, 1)
            ]
            a, b = (
                Response.objects.create(
                    prompt=prompt, text=t, model_name=f"m{n}", content_hash=content_hash(t)
                )
                for n, t in enumerate(texts)
            )
            Comparison.objects.create(project=project, prompt=prompt, response_a=a, response_b=b)
    connections.close_all()
    return project.pk, username, password


def count_judgments(username: str) -> int:
    from django.db import connections

    from annotate.models import Judgment

    n = Judgment.objects.filter(labeler__username=username).count()
    connections.close_all()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--think-ms", type=int, default=250, help="pause between keypresses")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        sys.exit("This bench runs on PostgreSQL: pass --database-url postgres://...")

    data_dir = tempfile.mkdtemp(prefix="pw-ui-bench-")
    env = dict(os.environ, DATABASE_URL=args.database_url, PAIRWISE_DATA_DIR=data_dir, DEBUG="0")
    os.environ.update(DATABASE_URL=args.database_url, PAIRWISE_DATA_DIR=data_dir)
    ensure_database(args.database_url)
    print("migrating…", flush=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    project_id, username, password = seed(args.pairs)
    print(f"seeded project {project_id} with {args.pairs + 40} comparisons for {username}", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/accounts/login/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit("the dev server did not start")
        latencies, parts, prefetched, saves = run_browser(base, project_id, username, password, args)
    finally:
        server.terminate()
        server.wait(10)

    stored = count_judgments(username)
    print()
    print(
        f"keypress -> next pair painted, {len(latencies)} judgments, {args.think_ms} ms apart (Chromium, runserver, PostgreSQL)"
    )
    print(
        f"  p50 {percentile(latencies, 50):6.1f} ms   p95 {percentile(latencies, 95):6.1f} ms   "
        f"p99 {percentile(latencies, 99):6.1f} ms   max {max(latencies):6.1f} ms   mean {statistics.mean(latencies):6.1f} ms"
    )
    names = ["input delay", "key handler + DOM", "wait for frame", "frame to painted"]
    for n, name in enumerate(names):
        column = [p[n] for p in parts]
        print(f"    {name:18s} p50 {percentile(column, 50):6.1f} ms   p95 {percentile(column, 95):6.1f} ms")
    print(f"  next pair already prefetched at the keypress: {prefetched}/{len(latencies)}")
    print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if saves:
        print(
            f"background save (POST judgment, resource timing): p50 {percentile(saves, 50):.1f} ms, "
            f"p95 {percentile(saves, 95):.1f} ms over {len(saves)} requests"
        )
    print(f"judgments stored: {stored} (expected {len(latencies)})")
    if stored != len(latencies):
        sys.exit("MISMATCH between judgments made and stored")


def run_browser(base: str, project_id: int, username: str, password: str, args):
    from playwright.sync_api import sync_playwright

    keys = ["a", "b", "1", "2", "e a", "q b", "w 2"]
    latencies: list[float] = []
    prefetched = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.add_init_script(MEASURE)
        page.goto(base + "/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        page.goto(f"{base}/projects/{project_id}/label/")
        page.wait_for_selector("#pair[data-assignment-id]")
        page.wait_for_function("() => window.pairwise.queued() >= 3")
        for i in range(args.pairs):
            page.wait_for_timeout(args.think_ms)
            page.wait_for_selector("#pair[data-assignment-id]")
            prefetched += page.evaluate("() => window.pairwise.queued()") >= 2
            *strength, choice = keys[i % len(keys)].split()
            for key in strength:
                page.keyboard.press(key)
            page.keyboard.press(choice)
            page.wait_for_function("n => window.__lat.length > n", arg=i, timeout=30_000)
            if (i + 1) % 50 == 0:
                print(f"  {i + 1} judged", flush=True)
        latencies = page.evaluate("() => window.__lat")
        parts = page.evaluate("() => window.__parts")
        page.wait_for_function("() => window.pairwise.pending() === 0", timeout=60_000)
        saves = page.evaluate(
            "() => performance.getEntriesByType('resource')"
            ".filter(e => e.name.endsWith('/judgment')).map(e => e.duration)"
        )
        browser.close()
    return latencies, parts, prefetched, saves


if __name__ == "__main__":
    main()
