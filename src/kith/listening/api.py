"""HTTP API for kith.listening (thin: parse, check access, call a service or query, serialise)."""

from ninja import Router

router = Router(tags=["listening"])
