"""Hostile prompts, responses and guidelines render as text in Chromium and run nothing."""

from __future__ import annotations

import pytest

from annotate.models import Comparison, Prompt, Response, content_hash
from tests.browser_support import log_in
from tests.factories import make_project

pytestmark = pytest.mark.browser

# Every payload would set window.__xss (or open a dialog) if anything of it ran.
PAYLOADS = [
    "<script>window.__xss = 'script'; alert('script')</script>",
    "<img src=x onerror=\"window.__xss = 'img'; alert('img')\">",
    "[click me](javascript:window.__xss='link';alert('link'))",
    "[entity](&#106;avascript:alert('entity'))",
    "<svg onload=\"window.__xss = 'svg'; alert('svg')\"><circle r=\"40\"/></svg>",
    "```html\n<script>window.__xss = 'fence'</script>\n<img src=x onerror=alert('fence')>\n```",
    "<iframe srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>",
    "<a href=\"javascript:alert('a')\" onmouseover=\"window.__xss='hover'\">hover me</a>",
    "<details open ontoggle=\"window.__xss='details'\">x</details>",
    "![pixel](javascript:alert('image'))",
    "<style>body { display: none }</style>",
    "[ok](https://example.com/docs)",
]


def make_hostile_pair(project, i: int, payload: str) -> Comparison:
    messages = [
        {"role": "system", "content": f"system {i}: {payload}"},
        {"role": "user", "content": f"user {i}: {payload}"},
    ]
    prompt = Prompt.objects.create(project=project, messages=messages, content_hash=content_hash(messages))
    a_text, b_text = f"A{i} {payload}", f"B{i} text\n\n{payload}"
    a = Response.objects.create(prompt=prompt, text=a_text, content_hash=content_hash(a_text))
    b = Response.objects.create(prompt=prompt, text=b_text, content_hash=content_hash(b_text))
    return Comparison.objects.create(project=project, prompt=prompt, response_a=a, response_b=b)


DOM_CHECK = """() => {
    const root = document.querySelector('main');
    const bad = [];
    for (const el of root.querySelectorAll('script, img, svg, iframe, object, embed, style, details, form input[type=image]')) {
        if (el.id !== 'screen-data') bad.push(el.outerHTML.slice(0, 80));
    }
    for (const el of root.querySelectorAll('*')) {
        for (const attr of el.attributes) {
            if (attr.name.startsWith('on') || attr.name === 'style' || attr.name === 'srcdoc') bad.push(el.tagName + ' ' + attr.name);
        }
    }
    for (const a of root.querySelectorAll('a[href]')) {
        if (!/^(https?:|mailto:|\\/)/.test(a.getAttribute('href'))) bad.push('href ' + a.getAttribute('href'));
    }
    return bad;
}"""


def test_it_renders_hostile_markdown_as_text_and_runs_nothing(context, server, alice):
    with server.db():
        project = make_project(
            "Hostile", labelers=(alice,), guidelines="Guidelines " + " ".join(PAYLOADS[:5])
        )
        for i, payload in enumerate(PAYLOADS):
            make_hostile_pair(project, i, payload)
    dialogs: list[str] = []
    errors: list[str] = []
    context.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation', "
        "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(context, server, alice)
    page.goto(f"{server.url}/projects/{project.pk}/label/")
    page.keyboard.press("g")  # make sure the guidelines panel is open too
    if page.is_hidden("#guidelines"):
        page.keyboard.press("g")

    seen = set()
    for _ in PAYLOADS:
        handle = page.wait_for_selector("#pair[data-assignment-id]")
        assignment_id = handle.get_attribute("data-assignment-id")
        seen.add(assignment_id)
        text = page.inner_text("#pair")
        i = next(n for n in range(len(PAYLOADS)) if f"user {n}:" in text)
        payload = PAYLOADS[i]
        # Hover and click every link the pair shows: none may run anything.
        for link in page.query_selector_all("#pair a[href]"):
            link.hover()
            assert link.get_attribute("href").startswith("https://")
            assert link.get_attribute("target") == "_blank"
        assert page.evaluate(DOM_CHECK) == [], payload
        if payload.startswith("<script>") or payload.startswith("<img"):
            # Raw HTML is shown as the text it is.
            assert payload in page.inner_text("#body-a")
        page.keyboard.press("a")
        page.wait_for_function(
            "id => document.getElementById('pair').dataset.assignmentId !== id", arg=assignment_id
        )
    assert len(seen) == len(PAYLOADS)
    assert page.inner_text(".guidelines-body").startswith("Guidelines <script>")
    page.wait_for_function("() => window.pairwise.pending() === 0")
    assert page.evaluate("() => window.__xss") is None
    assert page.evaluate("() => window.__csp") == []
    assert dialogs == []
    assert errors == []
