"""A missing Chromium skips the browser tests, except under CI=true, where it fails them."""

from __future__ import annotations

import pytest

from tests import browser_support


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(browser_support, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)


def test_it_skips_without_chromium_outside_ci(no_chromium):
    with pytest.raises(pytest.skip.Exception, match="no Chromium at"):
        browser_support.require_chromium()


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_it_fails_without_chromium_under_ci(no_chromium, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI=true, so the browser tests must run"):
        browser_support.require_chromium()


def test_it_skips_when_ci_is_false(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        browser_support.require_chromium()


def test_it_passes_with_chromium(monkeypatch, tmp_path):
    chromium = tmp_path / "chromium"
    chromium.write_text("")
    monkeypatch.setattr(browser_support, "CHROMIUM", str(chromium))
    monkeypatch.setenv("CI", "true")
    browser_support.require_chromium()
