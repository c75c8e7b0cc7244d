"""What labelers see is what they judge, in Chromium: arithmetic keeps its stars, bidirectional
controls show as escapes and never reorder text, and the guidelines panel opens only when the
project asks for it, at a width that can be read."""

from __future__ import annotations

import pytest

from annotate.models import Comparison, Prompt, Response, content_hash
from tests.browser.samples import GUIDELINES, make_sample_comparisons
from tests.browser.test_screen import open_screen
from tests.factories import make_project

pytestmark = pytest.mark.browser

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "abc\u202edef" displays as "abcfed"
SHOWN = "⟨U+202E⟩"


def make_bidi_pair(project) -> Comparison:
    messages = [
        {"role": "system", "content": f"Grade {RLO}fairly."},
        {"role": "user", "content": f"Is 3*4 + 5*6 = 42? {RLO}yes"},
        {"role": "assistant", "content": f"Let me check{RLO}."},
        {"role": "user", "content": f"Go on {RLO}please."},
    ]
    prompt = Prompt.objects.create(project=project, messages=messages, content_hash=content_hash(messages))
    a_text = (
        f"3*4 + 5*6 = 42, so **yes**.\n\n```python\nif role != 'user{RLO} \u2066# admin\u2069 \u2066':\n```"
    )
    b_turns = [
        {"role": "assistant", "content": f"Which part{RLO}?"},
        {"role": "user", "content": "The sum."},
        {"role": "assistant", "content": f"12 + 30 = 42{RLO}."},
    ]
    b_text = "\n\n".join(t["content"] for t in b_turns)
    a = Response.objects.create(prompt=prompt, text=a_text, content_hash=content_hash(a_text))
    b = Response.objects.create(
        prompt=prompt, text=b_text, messages=b_turns, content_hash=content_hash(b_text)
    )
    return Comparison.objects.create(project=project, prompt=prompt, response_a=a, response_b=b)


def test_it_shows_bidi_controls_and_arithmetic_as_they_are(context, server, alice):
    with server.db():
        project = make_project(
            "Text",
            labelers=(alice,),
            guidelines=f"Judge the {RLO}maths,\nnot the style.\n\nThen pick.",
            guidelines_open_first=True,
        )
        make_bidi_pair(project)
    page = open_screen(context, server, alice, project)
    page.wait_for_selector("#guidelines:not([hidden])")
    for selector in ("#prompt", "#body-a", "#body-b", ".guidelines-body"):
        text = page.inner_text(selector)
        assert SHOWN in text, selector
        assert RLO not in text, selector
    assert page.locator("#prompt .bidi-escape").count() == 4  # one a turn
    # The screen shows the two sides in the assignment's random order: find them by their content.
    assert page.locator(".response-body .turn .bidi-escape").count() == 2
    assert page.get_attribute(".response-body .bidi-escape", "title") == "RIGHT-TO-LEFT OVERRIDE"
    # Nowhere in the page's text, the bootstrap JSON included, is a bidi control left to apply.
    leftover = page.evaluate(
        "() => [...document.documentElement.textContent].filter(c => /[\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]/.test(c)).length"
    )
    assert leftover == 0
    assert "3*4 + 5*6 = 42, so yes." in page.inner_text("#body-a") + page.inner_text("#body-b")
    assert "Is 3*4 + 5*6 = 42?" in page.inner_text("#prompt")
    assert page.locator("#pair em").count() == 0
    # The guidelines are paragraphs: the single newline joins its lines.
    assert page.locator(".guidelines-body p").count() == 2
    assert page.locator(".guidelines-body br").count() == 0


def test_it_keeps_the_guidelines_closed_on_a_first_visit_unless_the_project_asks(context, server, alice):
    with server.db():
        project = make_project("Closed", labelers=(alice,), guidelines=GUIDELINES)
        make_sample_comparisons(project, 3)
    page = open_screen(context, server, alice, project)
    assert page.is_hidden("#guidelines")
    assert page.get_attribute("#btn-guidelines", "aria-expanded") == "false"
    page.keyboard.press("g")
    assert page.is_visible("#guidelines")
    page.reload()  # opened by the labeler: it stays open
    page.wait_for_selector("#pair[data-assignment-id]")
    assert page.is_visible("#guidelines")


def test_it_opens_the_guidelines_at_a_readable_width_when_the_project_asks(context, server, alice):
    with server.db():
        project = make_project("Open", labelers=(alice,), guidelines=GUIDELINES, guidelines_open_first=True)
        make_sample_comparisons(project, 3)
    page = open_screen(context, server, alice, project)  # 1440 x 900
    page.wait_for_selector("#guidelines:not([hidden])")
    assert page.get_attribute("#btn-guidelines", "aria-expanded") == "true"
    panel = page.locator("#guidelines").bounding_box()
    assert 440 <= panel["width"] <= 0.36 * 1440  # about 55 characters a line, not a quarter
    for body in ("#body-a", "#body-b"):
        assert page.locator(body).bounding_box()["width"] >= 400
    choices = page.locator(".choices").bounding_box()
    assert choices["x"] + choices["width"] <= panel["x"]  # the buttons are not under the panel
    page.keyboard.press("g")  # closed by the labeler: the project's wish applies to first visits only
    page.reload()
    page.wait_for_selector("#pair[data-assignment-id]")
    assert page.is_hidden("#guidelines")
