"""Panels on record pages, contributed by other apps.

A person's page belongs to ``kith.people``, yet their deals, cases, activities and feed
belong to apps built on top of it. Those apps register a panel here (in their
``AppConfig.ready``); the page renders whatever is registered, so ``people`` never
imports the apps that depend on it and each panel checks its own access.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString

logger = logging.getLogger("kith.web")

# render(request, record) -> HTML to show, or None when the panel has nothing to show
# (or the user may not see it).
Renderer = Callable[[HttpRequest, Any], "str | None"]


@dataclass(frozen=True)
class Panel:
    name: str
    record: str  # which record pages: "party"
    render: Renderer
    column: str = "main"  # "main" or "side"
    order: int = 100


_panels: dict[tuple[str, str], Panel] = {}


def register(
    record: str, name: str, render: Renderer, *, column: str = "main", order: int = 100
) -> None:
    """Show ``render``'s HTML on every ``record`` page, in ``column``, sorted by ``order``."""
    if column not in {"main", "side"}:
        raise ValueError("column must be 'main' or 'side'")
    _panels[(record, name)] = Panel(name, record, render, column, order)


def render_for(request: HttpRequest, record: str, obj: Any) -> dict[str, list[SafeString]]:
    """The HTML of every panel for ``obj``, grouped by column."""
    columns: dict[str, list[SafeString]] = {"main": [], "side": []}
    for panel in sorted(
        (p for p in _panels.values() if p.record == record), key=lambda p: (p.order, p.name)
    ):
        html = panel.render(request, obj)
        if html:
            columns[panel.column].append(SafeString(html))
    return columns
