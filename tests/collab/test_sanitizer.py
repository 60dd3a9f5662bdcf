"""The sanitiser against XSS payloads (OWASP XSS filter evasion cheat sheet and friends).

Each payload goes through the whole path a post takes (Markdown, then nh3) and the
result is parsed as a browser would: no script element, no event-handler attribute,
no style, no script/data URL in any href or src survives.
"""

import html
import re
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest

from kith.collab import rendering

PAYLOADS = [
    "<script>alert('XSS')</script>",
    "<SCRIPT SRC=https://xss.rocks/xss.js></SCRIPT>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a onmouseover="alert(document.cookie)">xxs link</a>',
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>",
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    "<img src=x onerror=alert(1)>",
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    "<img src=x:alert(alt) onerror=eval(src) alt=xss>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0D;ascript:alert('XSS');\">",
    "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
    '<a href="jav&#x09;ascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](jav&#x09;ascript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "![img](javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "<svg onload=alert(1)>",
    "<svg/onload=alert('XSS')>",
    "<BODY ONLOAD=alert('XSS')>",
    "<iframe src=\"javascript:alert('XSS');\"></iframe>",
    '<IFRAME SRC=# onmouseover="alert(document.cookie)"></IFRAME>',
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    "<BGSOUND SRC=\"javascript:alert('XSS');\">",
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    "<STYLE>@import'http://xss.rocks/xss.css';</STYLE>",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">x</DIV>",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">x</DIV>",
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\"><TD BACKGROUND=\"javascript:alert('XSS')\">",
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.rocks/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH" AllowScriptAccess="always"></EMBED>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="%6A%61%76%61%73%63%72%69%70%74:alert(1)">x</a>',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<!--<img src="--><img src=x onerror=alert(1)//">',
    "`<img src=x onerror=alert(1)>` and <b onclick=alert(1)>bold</b>",
]

DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:")


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))


def _scheme(url: str) -> str:
    probe = url
    for _ in range(3):
        probe = unquote(html.unescape(probe))
    return re.sub(r"[\x00-\x20\x7f-\x9f]+", "", probe).lower()


def test_at_least_thirty_payloads():
    assert len(PAYLOADS) >= 30


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_neutralised(payload):
    out = rendering.render_markdown(payload)
    parsed = _Collect()
    parsed.feed(out)
    banned = {
        "script",
        "iframe",
        "object",
        "embed",
        "style",
        "svg",
        "meta",
        "link",
        "form",
        "input",
        "body",
        "math",
        "details",
        "bgsound",
    }
    assert not banned & set(parsed.tags), out
    for tag, name, value in parsed.attrs:
        assert not name.startswith("on"), out
        assert name not in ("style", "background", "action", "formaction"), out
        if name in ("href", "src"):
            assert not _scheme(value).startswith(DANGEROUS_SCHEMES), out
    assert "<script" not in out.lower()


def test_links_get_nofollow_noopener():
    out = rendering.render_markdown("[docs](https://example.com/a) and <a href='https://x.y'>x</a>")
    assert out.count('rel="nofollow noopener"') == 2
    assert 'href="https://example.com/a"' in out


def test_safe_markdown_survives():
    out = rendering.render_markdown("**bold** _it_ `code`\n\n- one\n- two\n\n> quote")
    for piece in (
        "<strong>bold</strong>",
        "<em>it</em>",
        "<code>code</code>",
        "<li>one</li>",
        "<blockquote>",
    ):
        assert piece in out
