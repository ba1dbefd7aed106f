"""Lesson bodies: Markdown rendered to HTML, then sanitized with an allow-list.

Markdown passes raw HTML through untouched, so its output is never trusted as it is: nh3 (the
Rust `ammonia` sanitizer) keeps only the tags and attributes below. Everything else goes —
<script> and <style> with their content, every event handler (onerror=, onclick= …), style
attributes, iframes, forms — and links and images keep only http(s), mailto and relative URLs
(no javascript:, data: or vbscript:). The result is stored with the lesson (`body_html`) and
rendered with |safe; it is computed from the source on every save, never accepted from a client.
"""

import markdown
import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "i", "img", "li", "ol", "p", "pre", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr",
        "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed together with what they contain (the other disallowed tags lose only the tag).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "embed", "noscript"})
MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "sane_lists"]


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Markdown source → safe HTML."""
    html = markdown.markdown(source or "", extensions=MARKDOWN_EXTENSIONS, output_format="html")
    return sanitize_html(html)
