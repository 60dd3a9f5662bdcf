"""Records of other apps, found through the access rules of the app that owns them.

Feeds, activities and other cross-cutting features point at "any record". Which user
may see a deal or a case is decided by ``kith.sales`` or ``kith.service``, which those
features do not import; by convention an app that owns a model ``Foo`` offers
``kith.<app>.access.get_foo(user, public_id)``, raising NotFound for a record the user
may not see.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from django.db.models import Model


def owning_app_getter(model: type[Model]) -> Callable[[Any, Any], Model] | None:
    """``kith.<app>.access.get_<model>`` for ``model``, or None when its app has none."""
    try:
        module = importlib.import_module(f"{model.__module__.rsplit('.', 1)[0]}.access")
    except ImportError:
        return None
    return getattr(module, f"get_{model._meta.model_name}", None)
