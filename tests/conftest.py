"""Shared fixtures: named personas (alice, bob, carol: labelers; mallory: another project's
labeler; manager: staff in the `managers` group) and a project with comparisons."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from tests.factories import make_comparisons, make_project, make_user


def pytest_configure(config):
    from django.conf import settings

    # Password hashing is the slowest part of creating a user; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config, items):
    """Run `postgres`-marked tests only on PostgreSQL."""
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The cache holds DRF's throttle counters (all test clients share one address): empty it per
    test. Login lockouts (django-axes) are database rows and go with each test's database."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def carol(db):
    return make_user("carol")


@pytest.fixture
def mallory(db):
    return make_user("mallory")


@pytest.fixture
def manager(db):
    return make_user("manager", manager=True, labeler=False)


@pytest.fixture
def project(alice, bob, carol):
    return make_project("Helpfulness", labelers=(alice, bob, carol), overlap_k=2, lease_seconds=600)


@pytest.fixture
def comparisons(project):
    return make_comparisons(project, 5)


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks, monkeypatch):
    """`with run_jobs(): client.post(...)`: the jobs the block sends (rewardmodel.jobs.lifecycle.job_send, on
    commit) run when it ends, in this process, as a worker would run them after the commit."""
    from pairwise.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)

    @contextmanager
    def run() -> Iterator[list]:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            yield callbacks

    return run


from tests.browser_support import browser, context, server  # noqa: E402,F401  (one Chromium per session)
from tests.ml_fixtures import (  # noqa: E402,F401  (fixtures shared by every test package)
    smol_tokenizer_dir,
    smollm2_dir,
    tiny_policy_dir,
    tiny_reward_dir,
)
