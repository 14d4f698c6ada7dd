"""Safe Markdown for guidelines, prompts and completions.

Two layers, because prompts and completions are untrusted text that labelers
read all day: markdown-it-py renders CommonMark (plus tables) with raw HTML
*disabled*, so `<script>` in a prompt is shown as text; then nh3 (the Rust
ammonia sanitiser) keeps only an allow-list of tags, attributes and URL
schemes, so nothing a renderer bug lets through can run.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> str:
    """Sanitised HTML for a Markdown string (empty string for empty input)."""
    if not text:
        return ""
    # Table alignment arrives as style="text-align:…"; the CSP forbids inline
    # styles, so the allow-list drops it rather than leave a blocked attribute.
    return sanitize_html(_renderer().render(text))


def sanitize_html(html: str) -> str:
    """The allow-list alone, for HTML that did not come from the renderer."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def markdown_filter(text: str | None) -> Markup:
    """Jinja filter: the sanitised HTML, marked safe so autoescape leaves it alone."""
    return Markup(render_markdown(text or ""))  # sanitised by nh3 above
