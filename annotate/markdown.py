"""Markdown for the labeler screen, rendered and sanitized on the server.

Prompts, responses and guidelines are untrusted text (model output, imported data). Two layers:
markdown-it-py with raw HTML disabled turns any HTML in the text into visible text, and only
accepts absolute http/https/mailto links; nh3 (ammonia) then keeps an allowlist of tags and
attributes, so whatever markdown-it emits, no script, event handler, SVG, style or foreign URL
scheme reaches the page. Images are shown as links, never loaded (no tracking pixels, no
`onerror` surface).

What labelers see is what they judge, so two CommonMark behaviours are changed:

- `*` is multiplication when it touches an operand. A run of `*` cannot open emphasis when the
  character before it is an ASCII letter or digit or one of `) ] } % !`, and cannot close
  emphasis when the character after it is an ASCII letter or digit or one of `( [ {`. So
  `3*4 + 5*6 = 42`, `x**2`, `5*x*y`, `2*(3+4)` and `(a+b)*(c+d)` keep every `*`; `a * b` and
  `10 * 3 * 2` already did (a `*` between spaces never opens or closes). Emphasis that opens and
  closes at word boundaries is unchanged: `*word*`, `**395**`, `(**bold**)`, `**Note:**`, and a
  `*` at the start of a line still makes a list. The cost: intraword `*` emphasis in ASCII
  (`un*believ*able`) stays literal, as CommonMark already does for `_`. `_` is untouched.
- Bidirectional controls are shown, never applied. The twelve Bidi_Control characters (U+061C,
  U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) can make text display in another order than
  it is stored ("Trojan Source"); each is rendered as a visible `⟨U+202E⟩` badge naming the
  character. Right-to-left letters themselves display as usual. The badges are put in after
  sanitizing, into text only: an attribute (a link title) gets the same `⟨U+202E⟩` as plain text
  before rendering, and link targets are percent-encoded by markdown-it.

Guidelines are rendered as paragraphs (a single newline is a space, a blank line a new
paragraph); prompts and responses keep single newlines as line breaks, as chat text expects.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline.state_inline import Delimiter, StateInline
from markdown_it.token import Token

_SCHEMES = ("http://", "https://", "mailto:")

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


def _validate_link(url: str) -> bool:
    # markdown-it normalizes entities and case before asking; only absolute web and mail links pass.
    # Anything else (javascript:, data:, relative paths into this app) stays literal text.
    return url.strip().lower().startswith(_SCHEMES)


def _render_image(renderer, tokens, idx, options, env) -> str:
    token = tokens[idx]
    alt = escapeHtml(token.content or "image")
    src = token.attrGet("src") or ""
    if _validate_link(src):
        return f'<a href="{escapeHtml(src)}">[image: {alt}]</a>'
    return f"[image: {alt}]"


# --- `*` next to an operand is multiplication -----------------------------------------------------

_OPERAND_BEFORE = frozenset(string.ascii_letters + string.digits + ")]}%!")
_OPERAND_AFTER = frozenset(string.ascii_letters + string.digits + "([{")


def _star_tokenize(state: StateInline, silent: bool) -> bool:
    """markdown-it's emphasis scanner for `*`, with the operand rule of the module docstring."""
    start = state.pos
    if silent or state.src[start] != "*":
        return False  # `_` (and everything else) goes on to markdown-it's own rules
    scanned = state.scanDelims(start, True)
    end = start + scanned.length
    before = state.src[start - 1] if start > 0 else " "
    after = state.src[end] if end < state.posMax else " "
    can_open = scanned.can_open and before not in _OPERAND_BEFORE
    can_close = scanned.can_close and after not in _OPERAND_AFTER
    for _ in range(scanned.length):
        token = state.push("text", "", 0)
        token.content = "*"
        state.delimiters.append(
            Delimiter(
                marker=ord("*"),
                length=scanned.length,
                token=len(state.tokens) - 1,
                end=-1,
                open=can_open,
                close=can_close,
            )
        )
    state.pos = end
    return True


# --- bidirectional controls are shown, not applied -------------------------------------------------

_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # Bidi_Control


def _label(char: str) -> str:
    return f"\u27e8U+{ord(char):04X}\u27e9"  # ⟨U+202E⟩


def _labels(text: str) -> str:
    return _BIDI.sub(lambda m: _label(m.group()), text)


def _badge(match: re.Match[str]) -> str:
    char = match.group()
    return f'<span class="bidi-escape" title="{unicodedata.name(char)}">{_label(char)}</span>'


def _bidi_out_of_attributes(state: StateCore) -> None:
    # The badges go into the text after sanitizing; an attribute must get no markup, so it gets
    # the label as text here (a link's title; an info string becomes a class, which nh3 drops).
    def clean(tokens: list[Token]) -> None:
        for token in tokens:
            token.attrs = {k: _labels(v) if isinstance(v, str) else v for k, v in token.attrs.items()}
            token.info = _labels(token.info)
            if token.children:
                clean(token.children)

    clean(state.tokens)


# --- the renderers ---------------------------------------------------------------------------------


def _build(*, line_breaks: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": line_breaks})
    md.enable(["table", "strikethrough"])
    md.validateLink = _validate_link
    md.inline.ruler.before("emphasis", "star_operand", _star_tokenize)
    md.core.ruler.push("bidi_attributes", _bidi_out_of_attributes)
    md.add_render_rule("image", _render_image)
    return md


_md_chat = _build(line_breaks=True)
_md_paragraphs = _build(line_breaks=False)
_cleaner = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes=_ATTRIBUTES,
    url_schemes={"http", "https", "mailto"},
    url_relative="deny",
    link_rel="noopener noreferrer nofollow",
    # A link must never navigate the labeling tab away from unsent work.
    set_tag_attribute_values={"a": {"target": "_blank"}},
)


@lru_cache(maxsize=4096)
def render_markdown(text: str, *, paragraphs: bool = False) -> str:
    """Safe HTML for untrusted Markdown. Pure and cached: the same response is shown k times.

    By default a single newline is a line break (chat text); `paragraphs=True` (guidelines) joins
    the lines of a paragraph as CommonMark does.
    """
    md = _md_paragraphs if paragraphs else _md_chat
    # After nh3, every bidi control left is in text: attributes were cleared of them above.
    return _BIDI.sub(_badge, _cleaner.clean(md.render(text or "")))
