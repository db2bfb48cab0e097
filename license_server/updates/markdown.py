"""Release notes: Markdown rendered to sanitised HTML (markdown-it-py, then nh3).

Raw HTML in the Markdown is not rendered (``html=False``), and the output goes
through nh3's allow-list anyway, so a changelog can never carry script into a
customer's wp-admin (it is shown in an iframe there and in ``plugins_api``).
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt

_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "strong", "ul", "del", "table", "thead",
    "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}}


@functools.lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@functools.lru_cache(maxsize=512)
def render(text: str) -> str:
    """Return sanitised HTML for Markdown ``text``."""
    html = _parser().render(text or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
