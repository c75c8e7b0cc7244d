from __future__ import annotations

from html.parser import HTMLParser

import pytest

from annotate.markdown import render_markdown
from annotate.models import Project
from annotate.screen_views import guidelines_html

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


# --- `*` next to an operand is multiplication ------------------------------------------------------

MATHS = [
    "2*3",
    "3*4 + 5*6 = 42",
    "a * b",
    "x**2",
    "2 * (3 + 4)",
    "5*x*y",
    "10 * 3 * 2",
    "2*(3+4)",
    "(2+3)*4",
    "(a+b)*(c+d) = (c+d)*(a+b)",
    "x**2 + y**2 = z**2",
    "2**10 = 1024",
    "n*(n+1)/2",
    "f(x)*g(x) + g(x)*f(x)",
    "[1, 2]*3 and [3]*2",
    "a*b*c",
    "2*3*4*5 = 120",
    "1.5*2 = 3 and 2.5*4 = 10",
    "3*4=12 and 5*6=30",
    "50%*2 = 1 and 25%*4 = 1",
    "3!*2 = 12 and 4!*2 = 48",
    "x^2*y + x*y^2",
    "What is 7*8? 7*8 = 56.",
    "a * b * c = c * b * a",
    "{x}*{y} = {y}*{x}",
    "e = m*c**2",
    "-3*-4 = 12 and -2*-5 = 10",
    "10*x + 3*y = 4*z",
    "1 < 2*3 and 4*5 > 6",
    "2 * 3 = 6, 4 * 5 = 20",
]


def visible_text(html: str) -> str:
    return "".join(parse(html).text).strip()


@pytest.mark.parametrize("maths", MATHS)
def test_it_keeps_every_star_of_arithmetic(maths):
    html = render_markdown(maths)
    tags = [tag for tag, _ in assert_safe(html).elements]
    assert tags == ["p"], html
    assert visible_text(html) == maths


def test_it_keeps_arithmetic_in_list_items_and_still_makes_the_list():
    html = render_markdown("* 3*4 = 12\n* 5*6 = 30\n* x**2")
    assert [tag for tag, _ in assert_safe(html).elements] == ["ul", "li", "li", "li"]
    assert [line.strip() for line in visible_text(html).splitlines()] == ["3*4 = 12", "5*6 = 30", "x**2"]


@pytest.mark.parametrize(
    ("source", "tag", "inside", "text"),
    [
        ("*emphasis* in prose", "em", "emphasis", "emphasis in prose"),
        ("**395**", "strong", "395", "395"),
        ("**395** is 5*79", "strong", "395", "395 is 5*79"),
        ("*Note:* 6*7 = 42", "em", "Note:", "Note: 6*7 = 42"),
        ("The answer is **12** because 3*4 = 12.", "strong", "12", "The answer is 12 because 3*4 = 12."),
        ("Very **bold**.", "strong", "bold", "Very bold."),
        ("(**bold**) and (*em*)", "strong", "bold", "(bold) and (em)"),
        ("**Answer:** 5*x*y", "strong", "Answer:", "Answer: 5*x*y"),
        ("_x_ stays emphasis", "em", "x", "x stays emphasis"),
        ("a *b* c", "em", "b", "a b c"),
    ],
)
def test_it_still_emphasises_prose(source, tag, inside, text):
    html = render_markdown(source)
    assert f"<{tag}>{inside}</{tag}>" in html
    assert visible_text(html) == text


def test_it_leaves_ascii_intraword_stars_literal():
    # The documented cost of the rule: CommonMark would emphasise "believ" here.
    assert visible_text(render_markdown("un*believ*able")) == "un*believ*able"


# --- bidirectional controls --------------------------------------------------------------------------

BIDI = {
    "\u061c": "ARABIC LETTER MARK",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
}


def badge(char: str) -> str:
    return f'<span class="bidi-escape" title="{BIDI[char]}">⟨U+{ord(char):04X}⟩</span>'


@pytest.mark.parametrize("char", BIDI)
def test_it_shows_each_bidi_control_as_a_named_badge(char):
    html = render_markdown(f"pay {char}100 dollars{char}")
    assert char not in html
    assert html == f"<p>pay {badge(char)}100 dollars{badge(char)}</p>\n"


@pytest.mark.parametrize(
    "source",
    [
        '`if access_level != "user\u202e \u2066// Check if admin\u2069 \u2066"`',
        "```python\nif access_level != 'user\u202e \u2066# admin\u2069 \u2066':\n```",
        "    indented \u202ecode",
        "| a | b |\n|---|---|\n| \u202e1 | 2 |",
        "> quoted \u202etext",
        "- item \u202etext",
        "**bold \u202etext**",
        "[link \u202etext](https://example.com/)",
        "&#x202E; as an entity, &#8238; as a number",
        "<https://example.com/\u202e>",
    ],
)
def test_it_never_lets_a_bidi_control_through(source):
    html = render_markdown(source)
    assert not set(html) & set(BIDI), html
    assert "⟨U+202E⟩" in visible_text(html)
    for tag, attrs in parse(html).elements:
        if tag == "span":
            assert attrs["class"] == "bidi-escape" and attrs["title"] in BIDI.values(), html
        else:
            assert tag in ALLOWED_TAGS


def test_it_puts_no_markup_into_attributes():
    html = render_markdown('[x](https://example.com/\u202e "a \u202etitle")')
    ((tag, attrs),) = parse(html).elements[1:]
    assert tag == "a"
    assert attrs["title"] == "a ⟨U+202E⟩title"
    assert attrs["href"] == "https://example.com/%E2%80%AE"


def test_it_shows_right_to_left_text_itself_as_it_is():
    assert render_markdown("שלום עולם and مرحبا") == "<p>שלום עולם and مرحبا</p>\n"


# --- guidelines ----------------------------------------------------------------------------------------


def test_it_joins_the_lines_of_a_guidelines_paragraph():
    html = render_markdown("Read the prompt,\nthen both answers.\n\nPick one.", paragraphs=True)
    assert "<br" not in html
    assert [tag for tag, _ in parse(html).elements] == ["p", "p"]
    assert html.startswith("<p>Read the prompt,\nthen both answers.</p>")


def test_the_screen_renders_guidelines_as_paragraphs():
    html = guidelines_html(Project(guidelines="one line\nthe same paragraph\n\nnext \u202eparagraph"))
    assert "<br" not in html
    assert html.count("<p>") == 2
    assert badge("\u202e") in html
