"""Posts cannot make readers' browsers fetch remote URLs: a remote Markdown image becomes a
link, a remote ``<img>`` loses its ``src``; images on Kith itself still show."""

from __future__ import annotations

import pytest

from kith.collab.rendering import render_markdown


@pytest.mark.parametrize(
    "text",
    [
        "![pixel](http://tracker.example/p.gif)",
        "![pixel](https://tracker.example/p.gif?reader=1)",
        "![](//tracker.example/p.gif)",
        '<img src="https://tracker.example/p.gif" alt="x">',
        "<img src='http://tracker.example/p.gif'>",
        '<img src="/\\tracker.example/p.gif">',
        '<img src="&#47;&#47;tracker.example/p.gif">',
        '<img src="/%09/tracker.example/p.gif">',
        '<img srcset="https://tracker.example/p.gif 1x" src="/ok.png">',
        '<picture><source srcset="https://tracker.example/p.gif"><img src="/ok.png"></picture>',
    ],
)
def test_no_remote_image_survives(text):
    html = render_markdown(text)
    assert not _remote_img_src(html), html
    assert "srcset" not in html


def _remote_img_src(html: str) -> bool:
    import re

    for src in re.findall(r"<img[^>]*\ssrc=\"([^\"]*)\"", html):
        if not src.startswith("/") or src.startswith(("//", "/\\")):
            return True
    return "<source" in html


def test_a_remote_markdown_image_becomes_a_link_the_reader_may_follow():
    html = render_markdown("See ![the chart](https://example.com/chart.png)")
    assert '<a href="https://example.com/chart.png" rel="nofollow noopener">the chart</a>' in html
    assert "<img" not in html


def test_local_images_still_show():
    html = render_markdown("![logo](/collab/attachments/1/logo.png)")
    assert '<img src="/collab/attachments/1/logo.png" alt="logo">' in html
