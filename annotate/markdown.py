"""Markdown for the labeler screen, rendered and sanitized on the server.

Prompts, responses and guidelines are untrusted text (model output, imported data). Two layers:
markdown-it-py with raw HTML disabled turns any HTML in the text into visible text, and only
accepts absolute http/https/mailto links; nh3 (ammonia) then keeps an allowlist of tags and
attributes, so whatever markdown-it emits, no script, event handler, SVG, style or foreign URL
scheme reaches the page. Images are shown as links, never loaded (no tracking pixels, no
`onerror` surface).
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

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


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    md.validateLink = _validate_link
    md.add_render_rule("image", _render_image)
    return md


_md = _build()
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
def render_markdown(text: str) -> str:
    """Safe HTML for untrusted Markdown. Pure and cached: the same response is shown k times."""
    return _cleaner.clean(_md.render(text or ""))
