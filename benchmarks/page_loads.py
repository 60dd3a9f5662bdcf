"""Page-load budget: every main staff page against a running Kith with the demo data.

Start Kith as the README does, in another shell, and leave it running::

    ./scripts/up.sh                                   # demo data, http://127.0.0.1:8000

then::

    .venv/bin/python benchmarks/page_loads.py                      # HTTP, 20 loads a page
    .venv/bin/python benchmarks/page_loads.py --browser            # headless Chromium
    .venv/bin/python benchmarks/page_loads.py --url http://host:8000 --user alice \\
        --password kith-demo-2026 --runs 50

It signs in through the login form, finds one record of each kind by following the
list pages (the first person, organisation, case and community space they link to),
loads each page once untimed, then ``--runs`` times, and prints p50 and p95 in
milliseconds per page against the budget (500 ms).

Two measures:
- HTTP (default): wall-clock time from sending the request to the last byte of the
  HTML, over one kept-alive connection (the server's share of a page load).
- ``--browser``: Chromium's load event (``loadEventEnd`` of the navigation timing),
  which adds the page's CSS, scripts and images, as a user sees it. Needs Playwright
  for Python and ``/usr/bin/chromium`` (see tests/e2e).

Nothing is written: every page is a GET.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request

BUDGET_MS = 500.0

# (label, path or a finder: (list page, link pattern)) in the order they are reported.
PAGES: list[tuple[str, str | tuple[str, str]]] = [
    ("dashboard", "/"),
    ("people list", "/people/"),
    ("person page", ("/people/", r'href="(/people/[0-9a-f-]{36}/)"')),
    ("organisation page", ("/organizations/", r'href="(/organizations/[0-9a-f-]{36}/)"')),
    ("deals board", "/sales/"),
    ("case queue", "/service/"),
    ("case page", ("/service/", r'href="(/service/cases/[0-9a-f-]{36}/)"')),
    ("my day", "/work/"),
    ("listening queue", "/listening/"),
    ("community space", ("/community/", r'href="(/community/s/[-\w]+/)"')),
]


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Session:
    """A signed-in HTTP session (cookies, CSRF) over urllib."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def _insecure_ok(self) -> None:
        # A production-like server marks its cookies Secure; a browser still sends them
        # to http://localhost (a secure context), urllib does not: do as the browser does.
        for cookie in self.jar:
            cookie.secure = False

    def get(self, path: str) -> tuple[int, str]:
        self._insecure_ok()
        try:
            with self.opener.open(self.base + path, timeout=60) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def login(self, user: str, password: str) -> None:
        status, body = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or not token:
            sys.exit(f"No login form at {self.base}/login/ (status {status}). Is Kith running?")
        data = urllib.parse.urlencode(
            {"username": user, "password": password, "csrfmiddlewaretoken": token.group(1)}
        ).encode()
        self._insecure_ok()
        request = urllib.request.Request(
            self.base + "/login/", data=data, headers={"Referer": self.base + "/login/"}
        )
        with self.opener.open(request, timeout=60) as response:
            response.read()
        status, body = self.get("/people/")
        if status != 200:
            sys.exit(f"Could not sign in as {user} (people list answered {status}).")


def resolve(session: Session) -> list[tuple[str, str]]:
    """(label, path) for every page, the record pages found from their lists."""
    found = []
    for label, target in PAGES:
        if isinstance(target, str):
            found.append((label, target))
            continue
        list_path, pattern = target
        _, body = session.get(list_path)
        match = re.search(pattern, body)
        if match is None:
            print(f"  {label}: no record linked from {list_path}; skipped", file=sys.stderr)
            continue
        found.append((label, match.group(1)))
    return found


def measure_http(session: Session, pages: list[tuple[str, str]], runs: int) -> dict:
    results = {}
    for label, path in pages:
        status, _ = session.get(path)  # warm: templates, caches, the connection
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            status, body = session.get(path)
            times.append((time.perf_counter() - start) * 1000)
        results[label] = (path, status, len(body), times)
    return results


def measure_browser(base: str, user: str, password: str, pages, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(base + "/login/")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        for label, path in pages:
            page.goto(base + path, wait_until="load")  # warm
            times = []
            for _ in range(runs):
                response = page.goto(base + path, wait_until="load")
                timing = page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return [n.loadEventEnd - n.startTime, n.transferSize]; }"
                )
                times.append(float(timing[0]))
            size = len(page.content())
            results[label] = (path, response.status if response else 0, size, times)
        browser.close()
    return results


def report(results: dict, runs: int, measure: str) -> int:
    print(f"\nPage loads ({measure}, {runs} runs each, budget {BUDGET_MS:.0f} ms)")
    print(f"{'page':<20} {'status':>6} {'KB':>7} {'p50 ms':>8} {'p95 ms':>8}  budget")
    over = 0
    for label, (path, status, size, times) in results.items():
        p50, p95 = statistics.median(times), percentile(times, 95)
        ok = p95 <= BUDGET_MS and status == 200
        over += not ok
        print(
            f"{label:<20} {status:>6} {size / 1024:>7.0f} {p50:>8.1f} {p95:>8.1f}  "
            f"{'ok' if ok else 'OVER'}   {path}"
        )
    print(f"{len(results) - over} of {len(results)} pages within budget")
    return over


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="kith-demo-2026")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--browser", action="store_true", help="time Chromium's load event")
    args = parser.parse_args(argv)
    session = Session(args.url)
    session.login(args.user, args.password)
    pages = resolve(session)
    if args.browser:
        results = measure_browser(args.url, args.user, args.password, pages, args.runs)
        measure = "Chromium load event"
    else:
        results = measure_http(session, pages, args.runs)
        measure = "HTTP, request to last byte"
    over = report(results, args.runs, measure)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
