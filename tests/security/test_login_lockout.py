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
from django.db.models import F
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


def _lock_out() -> None:
    for _ in range(LIMIT):
        _form("wrong")


def _age_attempts(minutes: float) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


@pytest.mark.parametrize("admin", [False, True])
def test_the_lockout_page_says_how_long_to_wait(dana, no_throttle, admin):
    _lock_out()
    page = _form("pw-dana", admin=admin)
    assert page.status_code == 429
    assert "Try again in 15 minutes." in page.content.decode()
    assert "Each try before then starts the wait again." in page.content.decode()  # axes' default
    assert 14 * 60 < int(page["Retry-After"]) <= 15 * 60


def test_the_lockout_page_counts_down_from_the_last_failure(dana, no_throttle, settings):
    settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # so a try leaves the clock alone
    _lock_out()
    _age_attempts(6)
    page = _form("pw-dana")
    assert page.status_code == 429 and "Try again in 9 minutes." in page.content.decode()
    assert "starts the wait again" not in page.content.decode()
    _age_attempts(8.5)  # 30 seconds left: rounded up, never "0 minutes"
    page = _form("pw-dana")
    assert "Try again in 1 minute." in page.content.decode() and int(page["Retry-After"]) <= 30


def test_the_wait_ends_with_the_newest_failures_that_make_the_limit(dana, no_throttle, settings):
    """Another user agent is another attempt row: the lock lasts while the recent rows add up."""
    settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
    old_browser = Client(HTTP_USER_AGENT="old")
    for _ in range(LIMIT - 3):
        _form("wrong", client=old_browser)
    _age_attempts(10)
    for _ in range(3):
        _form("wrong")  # locks: 7 failures 10 minutes ago and 3 now
    page = _form("pw-dana")
    assert page.status_code == 429 and "Try again in 5 minutes." in page.content.decode()


def test_the_token_endpoint_says_how_long_to_wait(dana, no_throttle):
    for _ in range(LIMIT):
        _token("wrong")
    locked = _token("pw-dana")
    assert locked.status_code == 429
    assert locked.json() == {
        "error": "Too many failed logins; try again in 15 minutes.",
        "code": "locked_out",
    }
    assert 14 * 60 < int(locked["Retry-After"]) <= 15 * 60


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
