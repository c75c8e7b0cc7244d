"""The ranking screen in real Chromium: keyboard-only sessions, never losing a judgment, permissions."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from annotate.models import Assignment, Judgment, Response
from annotate.services import JudgmentInput, comparison_assign_next, judgment_record
from tests.browser.samples import GUIDELINES, make_sample_comparisons
from tests.browser_support import log_in
from tests.factories import make_comparisons, make_project

pytestmark = pytest.mark.browser

# The README's picture. A test run leaves the tree clean: it is rewritten only when asked,
# `PAIRWISE_WRITE_SCREENSHOTS=1 bash scripts/test.sh -k readme_screenshot`.
README_SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshot-ranking.png"
WRITE_SCREENSHOTS = os.environ.get("PAIRWISE_WRITE_SCREENSHOTS") == "1"


def open_screen(context, server, user, project):
    page = context.new_page()
    log_in(context, server, user)
    page.goto(f"{server.url}/projects/{project.pk}/label/")
    page.wait_for_selector("#pair[data-assignment-id]")
    return page


def current(page) -> int:
    """The pair on screen (waiting for one if the test outran the prefetch)."""
    return int(page.wait_for_selector("#pair[data-assignment-id]").get_attribute("data-assignment-id"))


def press_and_wait_for_next(page, *keys: str) -> int:
    """Press keys; the last one must move on from the pair on screen. Returns that pair's id."""
    before = current(page)
    for key in keys:
        page.keyboard.press(key)
    # The next pair, not the "loading" state a test can reach by outrunning the prefetch.
    page.wait_for_function(
        "id => { const now = document.getElementById('pair').dataset.assignmentId;"
        " return now !== undefined && now !== String(id); }",
        arg=before,
    )
    return before


def wait_until_all_saved(page, timeout=15_000) -> None:
    page.wait_for_function("() => window.pairwise.pending() === 0", timeout=timeout)
    page.wait_for_selector("#sync:not(.is-sending):not(.is-offline)")


def test_it_takes_a_whole_session_from_the_keyboard(context, server, alice):
    """20 judgments, a skip and an undo, no mouse. The database holds exactly those 20."""
    with server.db():
        project = make_project(
            "Keyboard", labelers=(alice,), guidelines=GUIDELINES, require_rationale_for_tie=True
        )
        make_sample_comparisons(project, 26)
    page = open_screen(context, server, alice, project)

    # (keys before the choice, choice key) -> expected (choice, strength, rationale)
    plan = [
        ((), "a", ("A", 2, "")),
        (("e",), "b", ("B", 3, "")),
        (("q",), "1", ("A", 1, "")),
        ((), "2", ("B", 2, "")),
        (("e", "w"), "A", ("A", 2, "")),  # the last strength key wins; Shift does not matter
    ]
    expected: dict[int, tuple] = {}
    step, skipped, undone = 0, None, False
    while len(expected) < 20:
        if len(expected) in (4, 17):
            before = current(page)
            page.keyboard.press("x" if len(expected) == 4 else "4")
            page.wait_for_selector("#rationale:focus")
            page.keyboard.type("neither answers")
            expected[press_and_wait_for_next(page, "Enter")] = ("both_bad", None, "neither answers")
            assert before in expected
            continue
        if len(expected) == 7:
            # A tie needs a rationale in this project: the screen asks for it and keeps the pair.
            before = current(page)
            page.keyboard.press("t")
            page.wait_for_selector("#rationale:focus")
            assert "asks why" in page.text_content("#rationale-hint")
            page.keyboard.type("a tie: both explain it, b is not better")  # letters that are keys
            assert current(page) == before
            expected[press_and_wait_for_next(page, "Enter")] = (
                "tie",
                None,
                "a tie: both explain it, b is not better",
            )
            continue
        if len(expected) == 10:
            # An optional rationale, written with r and left with Esc, then the choice.
            current(page)
            page.keyboard.press("r")
            page.wait_for_selector("#rationale:focus")
            page.keyboard.type("B uses the wrong method; a, q and e typed here do nothing")
            page.keyboard.press("Escape")
            expected[press_and_wait_for_next(page, "a")] = (
                "A",
                2,
                "B uses the wrong method; a, q and e typed here do nothing",
            )
            continue
        if len(expected) == 12 and skipped is None:
            # Skip with a reason from the dialog: number key, Enter.
            skipped = press_and_wait_for_next(page, "s", "2", "Enter")
            continue
        if len(expected) == 15 and not undone:
            # Undo the last judgment (already on the server): the same pair comes back, and is
            # judged again differently.
            wait_until_all_saved(page)
            last = list(expected)[-1]
            current(page)
            page.keyboard.press("u")
            page.wait_for_function(
                "id => document.getElementById('pair').dataset.assignmentId === String(id)", arg=last
            )
            del expected[last]
            expected[press_and_wait_for_next(page, "e", "b")] = ("B", 3, "")
            undone = True
            continue
        before_keys, key, want = plan[step % len(plan)]
        expected[press_and_wait_for_next(page, *before_keys, key)] = want
        step += 1

    wait_until_all_saved(page)
    assert page.text_content("#stat-today").strip() == "20"
    with server.db():
        judgments = {j.assignment_id: j for j in Judgment.objects.filter(labeler=alice)}
        assert set(judgments) == set(expected)
        for assignment_id, (choice, strength, rationale) in expected.items():
            judgment = judgments[assignment_id]
            assert (judgment.choice, judgment.strength, judgment.rationale) == (choice, strength, rationale)
            assert judgment.side_order == Assignment.objects.get(pk=assignment_id).side_order
            assert judgment.seconds_on_task is not None and judgment.seconds_on_task >= 0
        assert {j.side_order for j in judgments.values()} == {"AB", "BA"}
        skip = Assignment.objects.get(pk=skipped)
        assert (skip.state, skip.skip_reason) == ("skipped", "Prompt or responses broken / unreadable")


def test_it_counts_only_the_seconds_the_tab_was_visible(context, server, alice):
    with server.db():
        project = make_project("Timer", labelers=(alice,))
        make_comparisons(project, 3)
    page = open_screen(context, server, alice, project)
    page.wait_for_timeout(400)
    page.evaluate(
        """() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
        document.dispatchEvent(new Event('visibilitychange'));
    }"""
    )
    page.wait_for_timeout(2500)
    page.evaluate(
        """() => {
        delete document.hidden; delete document.visibilityState;
        document.dispatchEvent(new Event('visibilitychange'));
    }"""
    )
    page.wait_for_timeout(400)
    judged = press_and_wait_for_next(page, "a")
    wait_until_all_saved(page)
    with server.db():
        seconds = Judgment.objects.get(assignment_id=judged).seconds_on_task
    assert 0.6 <= seconds < 2.0, seconds  # about 0.8 s visible; the 2.5 s hidden are not counted


def test_it_sends_one_request_per_judgment_once_the_queue_is_full(context, server, alice):
    with server.db():
        project = make_project("One trip", labelers=(alice,))
        make_comparisons(project, 12)
    page = open_screen(context, server, alice, project)
    page.wait_for_load_state("networkidle")  # the queue is full: the pair on screen and two ahead
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    for key in ("a", "b", "a"):
        press_and_wait_for_next(page, key)
        wait_until_all_saved(page)
    page.wait_for_load_state("networkidle")
    # Each judgment's answer brought the pair that refills the queue: no separate lease request.
    assert [url.rsplit("/", 2)[-1] for url in sent] == ["judgment"] * 3
    with server.db():
        assert Assignment.objects.filter(labeler=alice, state=Assignment.State.ACTIVE).count() == 3


def test_it_shows_capped_counts_as_at_least(context, server, alice, monkeypatch):
    # A big project's counts stop at the cap (annotate.services.SCREEN_COUNT_CAP); 3 here.
    monkeypatch.setattr("annotate.screen_views.SCREEN_COUNT_CAP", 3)
    with server.db():
        project = make_project("Capped", labelers=(alice,))
        make_comparisons(project, 8)
    page = open_screen(context, server, alice, project)
    assert page.text_content("#stat-mine").strip() == "3+"
    assert page.text_content("#stat-project").strip() == "3+"
    press_and_wait_for_next(page, "a")
    wait_until_all_saved(page)
    assert page.text_content("#stat-mine").strip() == "3+"  # 7 left: still "at least 3"
    assert page.text_content("#stat-today").strip() == "1"


def test_it_keeps_judgments_through_a_network_cut_and_a_reload(context, server, alice):
    with server.db():
        project = make_project("Offline", labelers=(alice,))
        make_comparisons(project, 12)
    page = open_screen(context, server, alice, project)
    attempts: list[str] = []

    def cut(route):
        attempts.append(json.loads(route.request.post_data)["client_id"])
        route.abort("internetdisconnected")

    page.route("**/assignments/*/judgment", cut)
    judged = [press_and_wait_for_next(page, key) for key in ("a", "b", "3")]
    page.wait_for_selector("#sync.is-offline")
    assert page.is_visible("#banner")
    assert "3" in page.text_content("#banner-text")

    page.reload()  # still cut: the three wait in localStorage and are not shown again
    page.wait_for_selector("#pair[data-assignment-id]")
    assert current(page) not in judged
    page.wait_for_function("() => window.pairwise.pending() === 3")
    judged += [press_and_wait_for_next(page, key) for key in ("x", "2")]
    page.wait_for_function("() => window.pairwise.pending() === 5")
    with server.db():
        assert not Judgment.objects.exists()

    page.unroute("**/assignments/*/judgment")  # the connection is back; retries go through
    wait_until_all_saved(page, timeout=40_000)
    assert page.is_hidden("#banner")
    with server.db():
        stored = list(Judgment.objects.filter(labeler=alice))
    assert sorted(j.assignment_id for j in stored) == sorted(judged)
    assert len({j.client_id for j in stored}) == 5
    # The outbox goes in order, so the cut kept hitting the first judgment: retried (also after
    # the reload) with the id it was first sent with, and stored once under that id.
    first = next(j for j in stored if j.assignment_id == judged[0])
    assert attempts.count(first.client_id) >= 2
    assert set(attempts) <= {j.client_id for j in stored}
    assert page.evaluate(
        "localStorage.length === 0 || !Object.keys(localStorage).some(k => k.startsWith('pairwise:outbox'))"
    )


def test_it_explains_a_lease_that_expired_and_was_not_needed(context, server, alice, bob, carol):
    with server.db():
        project = make_project("Late", labelers=(alice, bob, carol), overlap_k=2)
        make_comparisons(project, 1)
    page = open_screen(context, server, alice, project)
    # The screen keeps leasing ahead until the server has nothing more: let that finish, or its
    # last request could lease the pair to alice again after her lease is expired below.
    page.wait_for_load_state("networkidle")
    with server.db():
        Assignment.objects.filter(labeler=alice).update(expires_at=timezone.now() - timedelta(seconds=1))
        for i, labeler in enumerate((bob, carol)):
            judgment_record(
                labeler=labeler,
                assignment_id=comparison_assign_next(labeler=labeler, project=project).pk,
                data=JudgmentInput(choice="B", client_id=f"other-{i}"),
            )
    page.keyboard.press("a")
    notice = page.wait_for_selector(".notice")
    assert "not needed" in notice.text_content() and "lease" in notice.text_content()
    wait_until_all_saved(page)
    page.wait_for_selector("#empty:not([hidden])")
    with server.db():
        assert not Judgment.objects.filter(labeler=alice).exists()


def test_it_keeps_labelers_out_of_what_is_not_theirs(context, server, alice, bob, mallory):
    with server.db():
        theirs = make_project("Theirs", labelers=(mallory,))
        make_comparisons(theirs, 2)
        ours = make_project("Ours", labelers=(alice, bob))
        make_comparisons(ours, 3)
        bobs = comparison_assign_next(labeler=bob, project=ours)
        judgment_record(labeler=bob, assignment_id=bobs.pk, data=JudgmentInput(choice="A", client_id="bob-1"))
        bobs_next = comparison_assign_next(labeler=bob, project=ours)
    page = context.new_page()
    log_in(context, server, alice)
    response = page.goto(f"{server.url}/projects/{theirs.pk}/label/")
    assert response.status == 404
    page.goto(f"{server.url}/projects/{ours.pk}/label/")
    page.wait_for_selector("#pair[data-assignment-id]")
    assert current(page) != bobs_next.pk

    def send(path, body):
        return page.evaluate(
            """async ([url, body]) => {
                const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
                const res = await fetch(url, {method: 'POST', body: JSON.stringify(body),
                    headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}});
                return [res.status, await res.json()];
            }""",
            [f"{server.url}/projects/{ours.pk}/label/{path}", body],
        )

    status, body = send(f"assignments/{bobs_next.pk}/judgment", {"client_id": "steal", "choice": "B"})
    assert (status, body["code"]) == (404, "not_found")
    status, body = send(f"assignments/{bobs_next.pk}/skip", {"reason": "x"})
    assert status == 404
    status, body = send("undo", {"client_id": "bob-1"})
    assert status == 404
    status, body = send(f"../../{theirs.pk}/label/lease", {})
    assert status == 404
    with server.db():
        assert Judgment.objects.filter(client_id="bob-1").exists()
        assert not Judgment.objects.filter(labeler=alice).exists()
        assert Assignment.objects.get(pk=bobs_next.pk).state == Assignment.State.ACTIVE


def test_it_takes_the_readme_screenshot(context, server, alice, tmp_path):
    with server.db():
        project = make_project(
            "Helpfulness, round 3",
            labelers=(alice,),
            guidelines=GUIDELINES,
            guidelines_open_first=True,  # the picture shows them beside the pair
            require_rationale_for_tie=True,
        )
        make_sample_comparisons(project, 12)
    page = open_screen(context, server, alice, project)
    press_and_wait_for_next(page, "e", "a")  # one done: the counters move, the conversation pair shows
    wait_until_all_saved(page)
    page.wait_for_timeout(2200)  # the "saved" toast fades
    page.keyboard.press("q")
    shot = README_SCREENSHOT if WRITE_SCREENSHOTS else tmp_path / "screenshot-ranking.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000


def test_it_scrolls_long_responses_on_their_own(context, server, alice):
    long_text = "\n\n".join(f"Paragraph {i}: " + "words " * 40 for i in range(60))
    with server.db():
        project = make_project("Long", labelers=(alice,))
        make_comparisons(project, 2)
        Response.objects.filter(prompt__project=project).update(text=long_text)
    page = open_screen(context, server, alice, project)
    sizes = page.evaluate(
        "() => ['body-a', 'body-b'].map(id => { const el = document.getElementById(id);"
        " return [el.scrollHeight, el.clientHeight]; })"
    )
    assert all(scroll > 3 * client for scroll, client in sizes)
    assert page.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight + 1")
    page.keyboard.press("PageDown")  # both responses move together
    tops = page.evaluate("() => ['body-a', 'body-b'].map(id => document.getElementById(id).scrollTop)")
    assert tops[0] > 100 and tops[1] > 100
    page.focus("#body-b")  # one alone: focus it (Tab) and use the browser's own keys
    page.keyboard.press("End")
    page.wait_for_function(f"() => document.getElementById('body-b').scrollTop > {tops[1] + 100}")
    a_top, b_top = page.evaluate(
        "() => ['body-a', 'body-b'].map(id => document.getElementById(id).scrollTop)"
    )
    assert a_top == tops[0] and b_top > a_top
    press_and_wait_for_next(page, "a")  # the next pair starts at the top
    assert page.evaluate("() => document.getElementById('body-a').scrollTop") == 0


def test_it_works_at_200_percent_zoom(browser, server, alice):
    """A 1280x900 window at 200%: 640x450 CSS pixels. One column, nothing cut off, keys work."""
    with server.db():
        project = make_project("Zoom", labelers=(alice,), guidelines=GUIDELINES)
        make_sample_comparisons(project, 4)
    context = browser.new_context(viewport={"width": 640, "height": 450}, device_scale_factor=2)
    try:
        page = open_screen(context, server, alice, project)
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        a_box, b_box = page.locator("#body-a").bounding_box(), page.locator("#body-b").bounding_box()
        assert b_box["y"] >= a_box["y"] + a_box["height"]  # stacked, A first
        assert page.is_hidden("#guidelines")  # on a narrow window the panel waits for g
        page.keyboard.press("g")
        assert page.is_visible("#guidelines")
        page.keyboard.press("Escape")
        assert page.is_hidden("#guidelines")
        for selector in (".choice-a", ".choice-b", ".choice-tie", ".choice-bad", "#btn-skip", "#btn-undo"):
            box = page.locator(selector).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 640, selector
        press_and_wait_for_next(page, "b")
        wait_until_all_saved(page)
        with server.db():
            assert Judgment.objects.filter(labeler=alice, choice="B").count() == 1
    finally:
        context.close()
        server.wait_idle()


def test_it_keeps_judgments_while_logged_out_and_sends_them_after_login(context, server, alice):
    with server.db():
        project = make_project("Session", labelers=(alice,))
        make_comparisons(project, 4)
    page = open_screen(context, server, alice, project)
    context.clear_cookies()  # the session ends (expired, or logged out in another tab)
    judged = press_and_wait_for_next(page, "b")
    page.wait_for_selector("#banner-login:not([hidden])")
    assert "logged out" in page.text_content("#banner-text").lower()
    assert page.evaluate("() => window.pairwise.pending()") == 1

    other = context.new_page()  # log in again in another tab, with the form
    other.goto(f"{server.url}/accounts/login/")
    other.fill("#id_username", "alice")
    other.fill("#id_password", "pw-alice")
    other.click("button[type=submit]")
    other.wait_for_url(f"{server.url}/")

    page.click("#banner-retry")
    wait_until_all_saved(page)
    assert page.is_hidden("#banner")
    with server.db():
        assert list(Judgment.objects.filter(labeler=alice).values_list("assignment_id", "choice")) == [
            (judged, "B")
        ]
