from __future__ import annotations

from html.parser import HTMLParser

import pytest

from annotate.markdown import render_markdown

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def assert_safe(html: str) -> _Elements:
    parsed = parse(html)
    for tag, attrs in parsed.elements:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {html!r}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} in {html!r}"
            assert name != "style", html
            if name == "href":
                assert value.startswith(("http://", "https://", "mailto:")), f"href {value!r} in {html!r}"
    return parsed


PAYLOADS = [
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnErRoR=alert(1)>",
    '<svg onload="alert(1)"><circle r="5"/></svg>',
    "<svg><script>alert(1)</script></svg>",
    "<iframe src='javascript:alert(1)'></iframe>",
    "<a href='javascript:alert(1)'>click</a>",
    "<details open ontoggle=alert(1)>",
    "<style>body{display:none}</style>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java%0Ascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "![x](javascript:alert(1))",
    '![x](https://example.com/a.png"onerror="alert(1))',
    "```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```",
    "`<svg onload=alert(1)>`",
    "    <script>alert('indented code')</script>",
    "> <script>alert(1)</script>",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | <img src=x onerror=alert(1)> |",
    '[ok](https://example.com "title" onclick="alert(1)")',
    "<!-- <script>alert(1)</script> -->",
    "[relative](/admin/)",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_it_never_emits_scripts_handlers_or_foreign_urls(payload):
    assert_safe(render_markdown(payload))


def test_it_shows_raw_html_as_text():
    html = render_markdown("<script>alert('xss')</script> and <img src=x onerror=alert(1)>")
    parsed = assert_safe(html)
    assert [tag for tag, _ in parsed.elements] == ["p"]
    assert "".join(parsed.text).strip() == "<script>alert('xss')</script> and <img src=x onerror=alert(1)>"


def test_it_keeps_html_in_code_fences_as_visible_code():
    html = render_markdown("```html\n<b onclick=alert(1)>hi</b>\n```")
    parsed = assert_safe(html)
    assert [tag for tag, _ in parsed.elements] == ["pre", "code"]
    assert "<b onclick=alert(1)>hi</b>" in "".join(parsed.text)


def test_it_leaves_javascript_links_as_plain_text():
    parsed = assert_safe(render_markdown("[x](javascript:alert(1))"))
    assert [tag for tag, _ in parsed.elements] == ["p"]
    assert "".join(parsed.text).strip() == "[x](javascript:alert(1))"


def test_it_renders_ordinary_markdown():
    html = render_markdown(
        "# Title\n\nSome **bold** and *italic* and `code`.\n\n- one\n- two\n\n1. first\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('hi')\n```\n\n> quoted\n\n~~old~~"
    )
    tags = [tag for tag, _ in assert_safe(html).elements]
    for tag in ("h1", "strong", "em", "code", "ul", "li", "ol", "table", "th", "td", "pre", "blockquote"):
        assert tag in tags, tag
    assert "del" in tags or "s" in tags


def test_it_opens_web_links_in_a_new_tab_without_referrer():
    (tag, attrs), *_ = [
        e for e in assert_safe(render_markdown("[docs](https://example.com/x)")).elements if e[0] == "a"
    ]
    assert attrs["href"] == "https://example.com/x"
    assert attrs["target"] == "_blank"
    assert "noopener" in attrs["rel"] and "noreferrer" in attrs["rel"]


def test_it_shows_images_as_links_and_never_loads_them():
    parsed = assert_safe(render_markdown("![a chart](https://example.com/chart.png)"))
    assert [tag for tag, _ in parsed.elements] == ["p", "a"]
    assert "[image: a chart]" in "".join(parsed.text)


def test_it_keeps_single_newlines_as_line_breaks():
    assert "<br>" in render_markdown("roses are red\nviolets are blue")


def test_it_handles_empty_text():
    assert render_markdown("") == ""
