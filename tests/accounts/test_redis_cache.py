"""With REDIS_URL, the shared cache (login throttling counters) lives in Redis.

Needs a Redis server; skipped, loudly, when none answers at $KITH_TEST_REDIS_URL.
"""

import os

import pytest

from kith.accounts import services
from kith.core.errors import Throttled, ValidationFailed

REDIS_URL = os.environ.get("KITH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not _redis_available(), reason=f"Redis not reachable at {REDIS_URL}: Redis tests SKIPPED"
    ),
]


def test_throttling_counters_are_shared_through_redis(rf, bob, settings):
    import redis
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"kith-test-{os.getpid()}",
        }
    }
    caches["default"].clear()
    request = rf.post("/login/")
    for _ in range(settings.KITH_LOGIN_MAX_FAILURES):
        with pytest.raises(ValidationFailed):
            services.login_with_password(request, username="bob", password="wrong", ip="10.1.1.1")
    # Another process would see the same counters: they are in Redis, not in this process.
    keys = redis.Redis.from_url(REDIS_URL).keys(f"kith-test-{os.getpid()}:*kith:login:*")
    assert keys
    with pytest.raises(Throttled):
        services.login_with_password(request, username="bob", password="whatever", ip="10.1.1.1")
    caches["default"].clear()
