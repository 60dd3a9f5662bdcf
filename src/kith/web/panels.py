"""Panels on record pages, contributed by other apps.

A person's page belongs to ``kith.people``, yet their deals, cases, activities and feed
belong to apps built on top of it. Those apps register a panel here (in their
``AppConfig.ready``); the page renders whatever is registered, so ``people`` never
imports the apps that depend on it and each panel checks its own access.

A panel is registered by the dotted path of its renderer and imported on the first page
that shows it: ``AppConfig.ready`` runs in every process (``kith import``, the worker),
and importing every app's views there cost about a quarter of a second of each start.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString

logger = logging.getLogger("kith.web")

# render(request, record) -> HTML to show, or None when the panel has nothing to show
# (or the user may not see it).
Renderer = Callable[[HttpRequest, Any], "str | None"]


@dataclass(frozen=True)
class Panel:
    name: str
    record: str  # which record pages: "party"
    render: Renderer | str  # or the renderer's dotted path, imported when first shown
    column: str = "main"  # "main" or "side"
    order: int = 100


_panels: dict[tuple[str, str], Panel] = {}


def register(
    record: str, name: str, render: Renderer | str, *, column: str = "main", order: int = 100
) -> None:
    """Show ``render``'s HTML on every ``record`` page, in ``column``, sorted by ``order``.

    Apps pass the dotted path of their renderer, so their views load with the first page.
    """
    if column not in {"main", "side"}:
        raise ValueError("column must be 'main' or 'side'")
    _panels[(record, name)] = Panel(name, record, render, column, order)


@functools.cache
def _imported(path: str) -> Renderer:
    return import_string(path)


def render_for(request: HttpRequest, record: str, obj: Any) -> dict[str, list[SafeString]]:
    """The HTML of every panel for ``obj``, grouped by column."""
    columns: dict[str, list[SafeString]] = {"main": [], "side": []}
    for panel in sorted(
        (p for p in _panels.values() if p.record == record), key=lambda p: (p.order, p.name)
    ):
        render = _imported(panel.render) if isinstance(panel.render, str) else panel.render
        html = render(request, obj)
        if html:
            columns[panel.column].append(SafeString(html))
    return columns
