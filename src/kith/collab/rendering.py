"""Markdown to safe HTML, and the @mention / #topic syntax.

User text is hostile. It is rendered with markdown-it-py (raw HTML allowed in, so that
pasted HTML degrades gracefully) and then *always* passed through nh3 with a small
allow-list: no script or style, no event-handler attributes, no ``javascript:``,
``vbscript:`` or ``data:`` URLs (also when hidden with entities, tabs or
percent-encoding), and every link gets ``rel="nofollow noopener"``. Images show only
from Kith itself (a path such as ``/collab/attachments/…``): a remote image would make
every reader's browser call its server, which tells the author who read the post and
when. A Markdown image with a remote address becomes a plain link to it; an HTML
``<img>`` with one loses its ``src``.

Mentions are written ``@username`` or, as the UI autocompletes them,
``@[Display Name](person:<uuid>)`` / ``@[Name](organization:<uuid>)`` /
``@[Name](user:<uuid>)``. Topics are ``#word`` (a letter first, so Markdown headings
``# Title`` and HTML entities ``&#x09;`` are not topics).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from html import escape, unescape
from urllib.parse import unquote

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "b",
    "em",
    "i",
    "s",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
_DANGEROUS = ("javascript:", "vbscript:", "data:", "file:", "livescript:")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]+")

_md = (
    MarkdownIt("commonmark", {"html": True, "breaks": True}).enable("table").enable("strikethrough")
)


def _render_image(renderer, tokens, idx, options, env) -> str:
    """``![alt](src)``: an image when ``src`` is on this site, else a link to it."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if _local_url(src):
        return renderer.image(tokens, idx, options, env)
    label = renderer.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escape(src)}">{escape(label)}</a>'


_md.add_render_rule("image", _render_image)


def _safe_url(value: str) -> bool:
    """False for a URL that is a script/data URL once entities, %-escapes and spaces go."""
    probe = value
    for _ in range(3):  # nested encodings: &amp;#x09; or %2509
        probe = unquote(unescape(probe))
    probe = _CONTROL.sub("", unicodedata.normalize("NFKC", probe)).lower()
    return not probe.startswith(_DANGEROUS)


def _local_url(value: str) -> bool:
    """True for a path on this site (``/x``), never ``//host`` or ``/\\host`` (browsers
    read both as another host) nor anything with a scheme."""
    probe = value
    for _ in range(3):
        probe = unquote(unescape(probe))
    probe = _CONTROL.sub("", unicodedata.normalize("NFKC", probe))
    return probe.startswith("/") and not probe.startswith(("//", "/\\"))


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr in ("href", "src") and not _safe_url(value):
        return None
    if tag == "img" and attr == "src" and not _local_url(value):
        return None
    return value


_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style", "iframe", "object", "embed", "template", "noscript"},
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel="nofollow noopener",
    attribute_filter=_attribute_filter,
    strip_comments=True,
)


def sanitize(html: str) -> str:
    """The safe subset of ``html``."""
    return _cleaner.clean(html)


def render_markdown(text: str) -> str:
    """Markdown (with mentions and topics already turned into links) to sanitised HTML."""
    return sanitize(_md.render(text or ""))


# ---------------------------------------------------------------- mentions and topics

EXPLICIT_MENTION = re.compile(
    r"@\[(?P<name>[^\]\n]{1,200})\]\((?P<kind>person|organization|org|user):(?P<ref>[0-9a-fA-F-]{32,36})\)"
)
USER_MENTION = re.compile(r"(?<![\w@/.\[])@(?P<username>[A-Za-z0-9_][A-Za-z0-9_.+-]{0,149})")
TOPIC = re.compile(r"(?<![\w&#/])#(?P<tag>[A-Za-z][A-Za-z0-9_-]{0,49})")


@dataclass
class Parsed:
    """What a text mentions: usernames, party and user public ids, topic slugs."""

    usernames: list[str] = field(default_factory=list)
    party_ids: list[uuid.UUID] = field(default_factory=list)
    user_ids: list[uuid.UUID] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)


def _add(items: list, value) -> None:
    if value not in items:
        items.append(value)


def parse(text: str) -> Parsed:
    """Find the mentions and topics in ``text`` (order kept, duplicates dropped)."""
    out = Parsed()
    text = text or ""
    for m in EXPLICIT_MENTION.finditer(text):
        try:
            ref = uuid.UUID(m["ref"])
        except ValueError:
            continue
        _add(out.user_ids if m["kind"] == "user" else out.party_ids, ref)
    rest = EXPLICIT_MENTION.sub(" ", text)
    for m in USER_MENTION.finditer(rest):
        _add(out.usernames, m["username"].rstrip(".-").lower())
    for m in TOPIC.finditer(rest):
        _add(out.topics, m["tag"].lower())
    return out


def _md_escape(text: str) -> str:
    return re.sub(r"([\\\[\]()*_`<>#@!])", r"\\\1", text)


def link_mentions(text: str, *, parties: dict, users_by_id: dict, users_by_name: dict) -> str:
    """Replace mention and topic syntax with Markdown links to their pages.

    ``parties`` maps party public id → (display name, url); ``users_by_id`` and
    ``users_by_name`` map to (label, url or ""). Unknown references are left as text.
    """

    def explicit(m: re.Match) -> str:
        try:
            ref = uuid.UUID(m["ref"])
        except ValueError:
            return m[0]
        found = users_by_id.get(ref) if m["kind"] == "user" else parties.get(ref)
        if not found:
            return "@" + _md_escape(m["name"])
        label, url = found
        return f"[@{_md_escape(label)}]({url})" if url else f"**@{_md_escape(label)}**"

    def by_name(m: re.Match) -> str:
        name = m["username"].rstrip(".-")
        trail = m["username"][len(name) :]
        found = users_by_name.get(name.lower())
        if not found:
            return m[0]
        label, url = found
        core = f"[@{_md_escape(label)}]({url})" if url else f"**@{_md_escape(label)}**"
        return core + trail

    def topic(m: re.Match) -> str:
        tag = m["tag"]
        return f"[\\#{tag}](/collab/topics/{tag.lower()}/)"

    pieces = []
    last = 0
    for m in EXPLICIT_MENTION.finditer(text):
        chunk = text[last : m.start()]
        pieces.append(TOPIC.sub(topic, USER_MENTION.sub(by_name, chunk)))
        pieces.append(explicit(m))
        last = m.end()
    pieces.append(TOPIC.sub(topic, USER_MENTION.sub(by_name, text[last:])))
    return "".join(pieces)
