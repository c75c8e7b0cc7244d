"""Brute force: after AXES_FAILURE_LIMIT wrong passwords for one username from one address, that
pair is locked out (429) on the login form, the admin login and POST /api/token/, even with the
right password, until the cool-off has passed. The token endpoint is also throttled per address."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.factories import make_user

LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture
def dana(db):
    return make_user("dana", manager=True)  # password "pw-dana"; staff, so the admin login works


@pytest.fixture
def no_throttle(monkeypatch):
    """These tests count axes' lockout, not the per-address throttle (tested below)."""
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "1000/min"})


def _form(password: str, *, admin: bool = False, client: Client | None = None):
    url = "/admin/login/" if admin else reverse("login")
    return (client or Client()).post(url, {"username": "dana", "password": password})


def _token(password: str):
    return APIClient().post(reverse("api-token"), {"username": "dana", "password": password}, format="json")


def _logged_in(response, *, how: str) -> bool:
    if how == "token":
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302  # a login form answers 200 again on a failure


def _try(how: str, password: str):
    if how == "token":
        return _token(password)
    return _form(password, admin=how == "admin")


def _cool_off() -> None:
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )


@pytest.mark.parametrize("how", ["form", "admin", "token"])
def test_it_locks_out_after_the_failure_limit_even_with_the_right_password(dana, no_throttle, how):
    assert LIMIT == 10
    for _ in range(LIMIT - 1):
        assert not _logged_in(_try(how, "wrong"), how=how)
    assert _try(how, "wrong").status_code == 429  # the 10th failure locks
    locked = _try(how, "pw-dana")  # the 11th try, right password
    assert locked.status_code == 429 and not _logged_in(locked, how=how)
    if how == "token":
        assert locked.json()["code"] == "locked_out"
    _cool_off()
    assert _logged_in(_try(how, "pw-dana"), how=how)


def test_it_locks_the_username_from_that_address_only(dana, no_throttle):
    for _ in range(LIMIT):
        _form("wrong")
    other_address = Client(REMOTE_ADDR="10.0.0.9")
    assert _logged_in(_form("pw-dana", client=other_address), how="form")


def test_a_right_login_resets_the_count(dana, no_throttle):
    for _ in range(LIMIT - 1):
        _form("wrong")
    assert _logged_in(_form("pw-dana"), how="form")
    for _ in range(LIMIT - 1):
        _form("wrong")
    assert _logged_in(_form("pw-dana"), how="form")


def test_it_throttles_token_requests_per_address(dana):
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])
    answers = [_token("pw-dana").status_code for _ in range(rate + 1)]
    assert answers[:rate] == [200] * rate
    assert answers[rate] == 429


# Another web process (the embedded default serves two; a deployment, several): it spends the
# address's token tries through DRF's own throttle, with the settings a server starts with.
_OTHER_PROCESS = """
import django
django.setup()
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import ScopedRateThrottle
from annotate.api.views import TokenApi
request = APIRequestFactory().post("/api/token/")  # from 127.0.0.1, as the test client
request.user = AnonymousUser()
throttle, view = ScopedRateThrottle(), TokenApi()
print(sum(throttle.allow_request(request, view) for _ in range({rate})), settings.CACHES["default"])
"""


def test_the_token_throttle_counts_tries_made_in_another_process(dana):
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "pairwise.settings",
        "PAIRWISE_DATA_DIR": str(settings.DATA_DIR),
    }
    other = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS.format(rate=rate)],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert other.returncode == 0, other.stderr[-3000:]
    allowed, cache = other.stdout.split(" ", 1)
    assert int(allowed) == rate and cache.strip() == str(settings.CACHES["default"])
    assert _token("pw-dana").status_code == 429  # this process saw none of those tries
