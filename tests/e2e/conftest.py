"""Browser fixtures: Debian's headless Chromium driven by Playwright, against ``live_server``.

Playwright is never asked to download a browser (``playwright install``): the tests use
``/usr/bin/chromium`` and skip, loudly, when it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Playwright's sync API keeps an asyncio loop running in the main thread; Django would
# otherwise refuse ORM calls from the test (fixtures, assertions) as "async unsafe".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# One browser per test module, not per session: Playwright's sync API keeps an event loop
# running in the main thread while the browser lives, and tests of other modules that
# run later in the same process (async_to_sync, Django's test connection) must not see it.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"END-TO-END TESTS SKIPPED: no Chromium at {CHROMIUM}; "
            "install it with `apt-get install -y chromium` (never `playwright install`)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def e2e_settings(settings):
    """The live server speaks plain HTTP: cookies must not require HTTPS."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.DEBUG = False
    return settings


@pytest.fixture
def new_page(browser, live_server, e2e_settings, restore_migration_seed):
    """A factory of fresh browser pages (own cookies) at a given viewport size.

    The live server needs a transactional database, which is emptied after each test;
    ``restore_migration_seed`` puts back the rows migrations seed (role vocabulary,
    default pipeline, activity types) that the pages offer.
    """
    contexts = []

    def make(width: int = 1280, height: int = 900):
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
