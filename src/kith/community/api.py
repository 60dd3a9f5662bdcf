"""HTTP API for kith.community (thin: parse, check access, call a service or query, serialise)."""

from ninja import Router

router = Router(tags=["community"])
