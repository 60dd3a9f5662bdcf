"""HTTP API for kith.work (thin: parse, check access, call a service or query, serialise)."""

from ninja import Router

router = Router(tags=["work"])
