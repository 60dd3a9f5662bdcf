"""HTTP API for kith.ideas (thin: parse, check access, call a service or query, serialise)."""

from ninja import Router

router = Router(tags=["ideas"])
