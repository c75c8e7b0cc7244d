"""Production settings: no start with the public development key when DEBUG is off, a generated key
when none is given, pseudonyms keyed by their own secret, and `check --deploy` clean with the
environment the README's deployment section gives. Each case runs Django in a fresh process."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PSEUDONYM = "import django; django.setup(); from annotate.exporting.build import labeler_pseudonym; print(labeler_pseudonym(7))"
# The variables the README's "Deploying for a team" section sets (databases and brokers aside).
README_DEPLOY_ENV = {
    "ALLOWED_HOSTS": "pairwise.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://pairwise.example.org",
    "PAIRWISE_HTTPS": "true",
    "PAIRWISE_BEHIND_PROXY": "true",
}


def _run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests' support module (Playwright's loop).
        if k not in ("SECRET_KEY", "DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
        and not k.startswith("PAIRWISE_")
    }
    clean |= {"DJANGO_SETTINGS_MODULE": "pairwise.settings", "PAIRWISE_DATA_DIR": str(data_dir), **env}
    return subprocess.run(args, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def _python(code: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-c", code], data_dir, **env)


def test_it_refuses_the_development_key_with_debug_off(tmp_path):
    done = _python("import django; django.setup()", tmp_path, SECRET_KEY=settings.DEV_SECRET_KEY)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "SECRET_KEY" in done.stderr


def test_it_refuses_a_short_key_with_debug_off(tmp_path):
    done = _python("import django; django.setup()", tmp_path, SECRET_KEY="hunter2")
    assert done.returncode != 0 and "ImproperlyConfigured" in done.stderr


def test_it_allows_the_development_key_with_debug_on(tmp_path):
    done = _python("import django; django.setup()", tmp_path, SECRET_KEY=settings.DEV_SECRET_KEY, DEBUG="1")
    assert done.returncode == 0, done.stderr


def test_it_generates_a_private_key_once_when_none_is_set(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    first, second = _python(code, tmp_path), _python(code, tmp_path)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key) >= 50 and key == second.stdout.strip() == (tmp_path / "secret_key").read_text().strip()
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_pseudonyms_do_not_follow_the_secret_key(tmp_path):
    one = _python(PSEUDONYM, tmp_path, SECRET_KEY=secrets.token_urlsafe(64))
    two = _python(PSEUDONYM, tmp_path)  # a generated SECRET_KEY this time
    assert one.returncode == 0, one.stderr
    assert one.stdout == two.stdout  # only SECRET_KEY changed: same pseudonyms
    assert stat.S_IMODE((tmp_path / "pseudonym_secret").stat().st_mode) == 0o600
    other = _python(PSEUDONYM, tmp_path, PAIRWISE_PSEUDONYM_SALT=secrets.token_urlsafe(64))
    assert other.stdout != one.stdout  # their own secret keys them


def test_check_deploy_passes_with_the_readme_settings(tmp_path):
    args = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    done = _run(args, tmp_path, SECRET_KEY=secrets.token_urlsafe(64), **README_DEPLOY_ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    # ... and without them it does not: the checks are live.
    assert _run(args, tmp_path).returncode != 0
