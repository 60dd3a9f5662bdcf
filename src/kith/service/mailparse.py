"""Parsing inbound e-mail into what a case needs (no database here).

Uses the standard ``email`` package with ``policy.default`` (which decodes RFC 2047
headers and body charsets). Handles multipart/alternative and mixed, HTML-only
mail (turned into text here; the HTML is kept and sanitised with nh3 when shown),
broken or unknown charsets (decoded with replacement rather than failing), and tells
auto-replies and bounces apart so they never become cases.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from kith.core import inputs

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
_MSGID_RE = re.compile(r"<[^<>\s]+>")


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class ParsedMail:
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_name: str = ""
    from_email: str = ""
    to: list[str] = field(default_factory=list)
    date: dt.datetime | None = None
    text: str = ""
    html: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    auto_reply: bool = False
    bounce: bool = False
    reason: str = ""

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, nearest first (In-Reply-To, then References newest first)."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        ids += [r for r in reversed(self.references) if r not in ids]
        return ids


def message_ids(value: str | None) -> list[str]:
    """Every ``<id>`` in a Message-ID / In-Reply-To / References header, in order."""
    return _MSGID_RE.findall(str(value or ""))


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a malformed header must not lose the whole message
        value = None
    if value is None:
        return ""
    return " ".join(str(value).split())


class _TextExtractor(HTMLParser):
    """HTML → readable text: drops scripts/styles, keeps line structure and link targets."""

    BLOCKS = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "hr",
    }
    SKIP = {"script", "style", "head", "title", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # HTMLParser is lenient, but never let a bad mail fail ingestion
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _decode_part(part: Message) -> str:
    """Text of one part; unknown or lying charsets decode with replacement characters."""
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    aliases = {"x-sjis": "shift_jis", "sjis": "shift_jis", "unknown-8bit": "latin-1"}
    charset = aliases.get(charset.lower(), charset)
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    if disposition == "inline" and part.get_filename():
        return part.get_content_maintype() != "text"
    return bool(part.get_filename()) and part.get_content_maintype() not in ("text", "multipart")


def _safe_filename(name: str, fallback: str) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f<>:\"|?*]", "_", name).strip(" .")
    return (name or fallback)[:200]


def detect_auto(msg: Message) -> tuple[bool, bool, str]:
    """(auto_reply, bounce, reason) from RFC 3834 headers and the usual vendor ones."""
    content_type = msg.get_content_type()
    sender = _header(msg, "From").lower()
    return_path = _header(msg, "Return-Path")
    if content_type == "multipart/report":
        return False, True, "multipart/report (delivery status notification)"
    local = email.utils.parseaddr(sender)[1].split("@", 1)[0]
    if local in ("mailer-daemon", "postmaster"):
        return False, True, f"sent by {local}"
    if return_path.strip() == "<>" and "delivery" in _header(msg, "Subject").lower():
        return False, True, "empty Return-Path delivery notice"
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto != "no":
        return True, False, f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        value = _header(msg, name).lower()
        if value and (name != "X-Auto-Response-Suppress" or "all" in value or "oof" in value):
            if name == "X-Auto-Response-Suppress":
                # Set by Outlook on its own automatic messages.
                if _header(msg, "Auto-Submitted") or "oof" in value:
                    return True, False, f"{name}: {value}"
                continue
            return True, False, f"{name}: {value}"
    precedence = _header(msg, "Precedence").lower()
    if precedence in ("bulk", "auto_reply", "junk", "list"):
        return True, False, f"Precedence: {precedence}"
    return False, False, ""


class UnreadableMail(ValueError):
    """A message the ``email`` package cannot take apart (e.g. MIME nested so deeply
    that parsing it exhausts the interpreter's recursion limit)."""


def parse(raw: bytes) -> ParsedMail:
    """Parse a whole RFC 5322 message; ``UnreadableMail`` when it cannot be read.

    The standard parser recurses once per nested multipart, so a hostile message of a
    few dozen kilobytes can exceed the recursion limit. That is the sender's fault, not
    a server error: it is reported like any other unreadable input.
    """
    try:
        return _parse(raw)
    except RecursionError:
        raise UnreadableMail("The message's MIME parts are nested too deeply.") from None


def _parse(raw: bytes) -> ParsedMail:
    msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
    out = ParsedMail()
    out.message_id = (message_ids(_header(msg, "Message-ID")) or [""])[0][:255]
    out.in_reply_to = (message_ids(_header(msg, "In-Reply-To")) or [""])[0][:255]
    out.references = [r[:255] for r in message_ids(_header(msg, "References"))]
    out.subject = _header(msg, "Subject")[:300]
    # The person is who it is from; Reply-To only says where answers go.
    name, addr = email.utils.parseaddr(_header(msg, "From"))
    out.from_name, out.from_email = name.strip().strip('"'), addr.strip()
    out.to = [a for _, a in email.utils.getaddresses([_header(msg, "To"), _header(msg, "Cc")]) if a]
    try:
        out.date = (
            email.utils.parsedate_to_datetime(_header(msg, "Date"))
            if _header(msg, "Date")
            else None
        )
        if out.date is not None and out.date.tzinfo is None:
            out.date = out.date.replace(tzinfo=dt.UTC)
        if out.date is not None:
            # A sender's clock is input like any other: year 9999 at -05:00 overflows in
            # UTC (kith.core.inputs). An impossible date is treated as no date.
            inputs.check_value(out.date)
    except (TypeError, ValueError, IndexError):  # InputError is a ValueError
        out.date = None
    out.auto_reply, out.bounce, out.reason = detect_auto(msg)

    texts: list[str] = []
    htmls: list[str] = []
    counter = 0
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_type() == "message/rfc822":
            continue
        if _is_attachment(part):
            counter += 1
            content = part.get_payload(decode=True) or b""
            if len(content) > MAX_ATTACHMENT_BYTES:
                continue
            out.attachments.append(
                ParsedAttachment(
                    filename=_safe_filename(part.get_filename() or "", f"attachment-{counter}"),
                    content_type=part.get_content_type()[:120],
                    content=content,
                )
            )
            continue
        if part.get_content_type() == "text/plain":
            texts.append(_decode_part(part))
        elif part.get_content_type() == "text/html":
            htmls.append(_decode_part(part))
    out.html = "\n".join(htmls)
    out.text = "\n\n".join(t.strip() for t in texts).strip() or html_to_text(out.html)
    out.text = out.text.replace("\r\n", "\n")
    return out


_QUOTE_HEADER = re.compile(
    r"^(On .{1,200} wrote:|Le .{1,200} a écrit :|Am .{1,200} schrieb .{1,100}:|-{2,} ?Original Message ?-{2,}|From: .+)$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The new part of a reply: drops the quoted thread below "On … wrote:" and ``>`` lines.

    Long threads would otherwise repeat the whole history in every message.
    """
    lines = text.splitlines()
    kept: list[str] = []
    for line in lines:
        if _QUOTE_HEADER.match(line.strip()) and kept:
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    result = "\n".join(kept).strip()
    return result or text.strip()
