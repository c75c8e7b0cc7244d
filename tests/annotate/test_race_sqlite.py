"""Race the embedded default, SQLite, whose only lock is the file's: BEGIN IMMEDIATE (settings'
transaction_mode) makes every transaction take the write lock first, so a second one waits at
BEGIN (busy timeout) instead of reading a snapshot it can no longer write from ("database is
locked"). SELECT ... FOR UPDATE is a no-op here; the file lock alone must keep every invariant.

Threads each open their own connection to the test database file; the server test serves the
same file as scripts/demo.sh does (gunicorn, two processes of four threads), with two labelers in
the test's own process besides: three processes whose writers queue on pairwise/sqlite's file
lock. With transaction=True what a test writes is committed, so all of them see it.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotate.models import Assignment, Comparison, Judgment, SideOrder
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from pairwise.errors import Conflict
from tests.annotate.race_support import Interleaving, interleaving
from tests.factories import make_comparisons, make_project, make_user

pytestmark = [
    pytest.mark.skipif(
        "sqlite" not in settings.DATABASES["default"]["ENGINE"],
        reason="SQLite's file lock (PostgreSQL has test_race.py and test_race_interleavings.py)",
    ),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
# Ceilings, not measures: only a hang reaches them.
DEADLINE_S = 30
SERVER_START_S = 30


@pytest.fixture
def race(monkeypatch) -> Iterator[Interleaving]:
    with interleaving(monkeypatch) as race:
        yield race


def _check_invariants(project, k: int, acknowledged: list[str]) -> None:
    """At most k per pair, the counter right, nobody twice on a pair, every 201 stored once."""
    per_comparison = Comparison.objects.filter(project=project).annotate(real=Count("judgments"))
    for c in per_comparison:
        assert c.real <= k, f"comparison {c.pk} has {c.real} judgments (k={k})"
        assert c.judgment_count == c.real, f"comparison {c.pk}: counter {c.judgment_count} != {c.real}"
    assert all(c.real == k for c in per_comparison), "the pool was not exhausted"
    pairs = Counter(Judgment.objects.values_list("comparison_id", "labeler_id"))
    assert max(pairs.values()) == 1, "a labeler judged one comparison twice"
    stored = Counter(Judgment.objects.values_list("client_id", flat=True))
    assert stored == Counter(acknowledged), "acknowledged and stored submissions differ"


# --- one interleaving, forced --------------------------------------------------------------------


def test_it_makes_a_second_labeler_wait_for_the_first_ones_lease(race):
    """Catches: transaction_mode other than IMMEDIATE (the second call reads the last pair as free,
    then cannot write: "database is locked")."""
    alice, bob = make_user("alice"), make_user("bob")
    project = make_project("Last pair", labelers=(alice, bob), overlap_k=1, lease_seconds=600)
    [comparison] = make_comparisons(project, 1)

    a = race.start(
        "A", lambda: comparison_assign_next(labeler=alice, project=project), hold_at="assign.leased"
    )
    b = race.start("B", lambda: comparison_assign_next(labeler=bob, project=project))
    race.settle(b)
    race.release("A")

    assert a.result().comparison_id == comparison.pk
    assert b.result() is None
    assert Assignment.objects.filter(comparison=comparison).count() == 1


def test_it_keeps_k_when_two_late_judgments_race_for_the_last_slot(race):
    """Catches: transaction_mode other than IMMEDIATE (as above, for judgment_record)."""
    alice, bob = make_user("alice"), make_user("bob")
    project = make_project("Late", labelers=(alice, bob), overlap_k=1, lease_seconds=600)
    [comparison] = make_comparisons(project, 1)
    now = timezone.now()
    leases = [
        Assignment.objects.create(
            project=project,
            comparison=comparison,
            labeler=labeler,
            side_order=SideOrder.AB,
            leased_at=now - timedelta(seconds=700),
            expires_at=now - timedelta(seconds=100),
        )
        for labeler in (alice, bob)
    ]

    def judge(labeler, lease):
        try:
            return judgment_record(
                labeler=labeler,
                assignment_id=lease.pk,
                data=JudgmentInput(choice="A", client_id=labeler.username),
            )[1]
        except Conflict as exc:
            return exc.code

    a = race.start("A", lambda: judge(alice, leases[0]), hold_at="judgment.checked")
    b = race.start("B", lambda: judge(bob, leases[1]))
    race.settle(b)
    race.release("A")

    assert [a.result(), b.result()] == [True, "lease_expired"]
    comparison.refresh_from_db()
    assert Judgment.objects.count() == comparison.judgment_count == 1


# --- many at once ------------------------------------------------------------------------------


def _labeler_loop(user_id: int, project_id: int, acknowledged: list[str]) -> None:
    """Take and judge until nothing is left for this labeler (nobody lets a lease run out here)."""
    from django.contrib.auth.models import User

    from annotate.models import Project

    labeler, project = User.objects.get(pk=user_id), Project.objects.get(pk=project_id)
    rng = random.Random(user_id)
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        assignment = comparison_assign_next(labeler=labeler, project=project, rng=rng)
        if assignment is None:
            return
        client_id = f"{labeler.username}-{assignment.pk}"
        judgment, created = judgment_record(
            labeler=labeler, assignment_id=assignment.pk, data=JudgmentInput(choice="A", client_id=client_id)
        )
        assert created
        acknowledged.append(judgment.client_id)
        if rng.random() < 0.3:  # a retry after a dropped response
            assert not judgment_record(
                labeler=labeler,
                assignment_id=assignment.pk,
                data=JudgmentInput(choice="A", client_id=client_id),
            )[1]
    raise AssertionError(f"{labeler.username} still busy after {DEADLINE_S}s")


def test_it_keeps_every_invariant_with_8_labelers_racing_in_threads():
    k, n = 3, 16
    users = [make_user(f"racer{i}") for i in range(8)]
    project = make_project("SQLite race", labelers=tuple(users), overlap_k=k, lease_seconds=600)
    make_comparisons(project, n)
    acknowledged: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(users))

    def run(user_id: int) -> None:
        try:
            barrier.wait()
            _labeler_loop(user_id, project.pk, acknowledged)
        except BaseException as exc:  # noqa: BLE001 - reported below ("database is locked" too)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(u.pk,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S + 10)
    assert not any(t.is_alive() for t in threads), "a labeler thread hung"
    assert not errors, errors
    _check_invariants(project, k, acknowledged)
    assert len(acknowledged) == n * k


# --- a real server process ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_url(tmp_path) -> Iterator[str]:
    """The test database file served as scripts/demo.sh serves the embedded default."""
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",  # the test database file
        "PAIRWISE_DATA_DIR": str(settings.DATA_DIR),
        "PYTHONPATH": str(ROOT),
        "DEBUG": "false",
    }
    cmd = [
        sys.executable, "-m", "gunicorn", "pairwise.wsgi:application", "-b", f"127.0.0.1:{port}",
        "-k", "gthread", "-w", "2", "--threads", "4",
    ]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, f"gunicorn exited:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"gunicorn did not start:\n{log.read_text()[-3000:]}"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _call(url: str, token: str, *, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE_S) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {"body": exc.read().decode(errors="replace")[:500]}


def test_it_keeps_every_invariant_with_labelers_racing_through_a_server(server_url):
    k, n = 2, 10
    users = [make_user(f"client{i}") for i in range(8)]
    project = make_project("Server race", labelers=tuple(users), overlap_k=k, lease_seconds=600)
    make_comparisons(project, n)
    tokens = [Token.objects.create(user=u).key for u in users[:6]]
    acknowledged: list[str] = []
    problems: list[str] = []
    barrier = threading.Barrier(len(users))

    def local(user_id: int) -> None:  # in this process, on the same file
        try:
            barrier.wait()
            _labeler_loop(user_id, project.pk, acknowledged)
        except BaseException as exc:  # noqa: BLE001 - reported below ("database is locked" too)
            problems.append(repr(exc))
        finally:
            connection.close()

    def client(index: int, token: str) -> None:
        barrier.wait()
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            status, body = _call(f"{server_url}/api/projects/{project.pk}/next/", token)
            if status != 200:
                problems.append(f"next: {status} {body}")
                return
            if body["assignment"] is None:
                return
            assignment_id = body["assignment"]["id"]
            judgment = {"choice": "B", "client_id": f"c{index}-{assignment_id}"}
            url = f"{server_url}/api/assignments/{assignment_id}/judgment/"
            status, body = _call(url, token, body=judgment)
            if status != 201:
                problems.append(f"judgment: {status} {body}")
                return
            acknowledged.append(body["client_id"])
        problems.append(f"client {index} still busy after {DEADLINE_S}s")

    threads = [threading.Thread(target=client, args=(i, t)) for i, t in enumerate(tokens)]
    threads += [threading.Thread(target=local, args=(u.pk,)) for u in users[6:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S + 10)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    assert not problems, problems  # a "database is locked" would be a 500 here
    _check_invariants(project, k, acknowledged)
    assert len(acknowledged) == n * k
    # The processes queued on the file lock beside the database (pairwise/sqlite).
    assert Path(f"{connection.settings_dict['NAME']}.txlock").exists()
