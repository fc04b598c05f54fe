"""Fixtures for the end-to-end tests: the real app in a subprocess, Debian's Chromium driven by
Playwright, and pages that fail the test on any console error, page error or request that
leaves the server (the playground must work offline in a classroom).

Playwright never downloads a browser here: it drives /usr/bin/chromium (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from tests.processes import stop

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90.0  # generous: the first start compiles the training step
_SERVER: dict = {}  # the running server's process and log, for `server_still_up`

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this folder `e2e`, and skip them all when there is no Chromium."""
    here = Path(__file__).parent
    missing = not os.access(CHROMIUM, os.X_OK)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = True
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if missing:
                item.add_marker(pytest.mark.skip(
                    reason=f"{CHROMIUM} (or the playwright package) is missing: install Debian's chromium; .ci/run does"))


@pytest.fixture(autouse=True)
def server_still_up() -> Iterator[None]:
    """If the server died during a test, say so with its log, instead of a wall of refused
    connections in the tests after it."""
    yield
    process, log = _SERVER.get("process"), _SERVER.get("log")
    if process is not None and process.poll() is not None:
        log.seek(0)
        pytest.fail(f"the server exited with {process.returncode} during this test:\n{log.read()}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    """The real app, started the way `make run` starts it: `python -m app` with HOST and PORT."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile(mode="w+")
    data_dir = tempfile.TemporaryDirectory()  # uploads made by the tests go nowhere else
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "warning", "DATA_DIR": data_dir.name,
           "PAGE_OPENS_PER_MINUTE": "100000"}  # the suite opens pages faster than any student
    process = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"the server exited with {process.returncode}:\n{log.read()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the server did not answer /healthz within {SERVER_START_TIMEOUT:.0f} s:\n{log.read()}")
            time.sleep(0.1)
        _SERVER.update(process=process, log=log)
        yield url
    finally:
        stop(process)
        log.close()
        data_dir.cleanup()


@pytest.fixture(scope="session")
def api(base_url: str) -> Iterator[httpx.Client]:
    """A JSON client for the server's API, to check what the page did to its session."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator["object"]:
    from playwright.sync_api import sync_playwright

    # Playwright gives the browser a fresh temporary profile (--user-data-dir) of its own.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watched:
    """A page and everything it reported: console errors, uncaught exceptions, requests."""

    page: "object"
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allowed_console: list[re.Pattern[str]] = field(default_factory=list)

    def unexpected_console_errors(self) -> list[str]:
        return [m for m in self.console_errors if not any(p.search(m) for p in self.allowed_console)]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


@pytest.fixture
def open_page(browser, base_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Watched]]:
    """A factory of watched pages. `open_page()` opens a page in a fresh browser context (its own
    cookies and storage, like another student's browser); `open_page(context=w.page.context)`
    opens another tab beside an existing one. After the test every page must have had no console
    or page errors, and must not have requested anything outside the server."""
    contexts = []
    watched: list[Watched] = []

    def make(context=None) -> Watched:
        if context is None:
            context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(10_000)
            contexts.append(context)
        page = context.new_page()
        w = Watched(page)
        page.on("console", lambda msg: w.console_errors.append(f"{msg.text} ({msg.location.get('url')})")
                if msg.type == "error" else None)
        page.on("pageerror", lambda exc: w.page_errors.append(str(exc)))
        page.on("request", lambda req: w.requests.append(req.url))
        watched.append(w)
        return w

    yield make

    ARTIFACTS.mkdir(exist_ok=True)
    call = getattr(request.node, "rep_call", None)
    failed = call is not None and call.failed
    suffix = "-failed" if failed else ""
    for i, w in enumerate(watched):
        if not w.page.is_closed():
            name = f"{_slug(request.node.name)}-{i}"
            (ARTIFACTS / f"{name}{'' if failed else '-failed'}.png").unlink(missing_ok=True)  # a stale one
            try:
                w.page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
            except Exception as exc:  # a screenshot must not hide the test's own result
                print(f"screenshot failed: {exc}")
    problems = []
    for i, w in enumerate(watched):
        if w.unexpected_console_errors():
            problems.append(f"page {i}: console errors: {w.unexpected_console_errors()}")
        if w.page_errors:
            problems.append(f"page {i}: page errors: {w.page_errors}")
        foreign = [u for u in w.requests if not (u == base_url or u.startswith(base_url + "/"))]
        if foreign:
            problems.append(f"page {i}: requests outside {base_url}: {foreign}")
    for context in contexts:
        context.close()
    # A failing (or expected-to-fail) test has already said what went wrong.
    if problems and not failed and not (call is not None and call.skipped):
        pytest.fail("; ".join(problems))


@pytest.fixture
def watched(open_page) -> Watched:
    return open_page()


@pytest.fixture
def page(watched: Watched):
    """One watched page in a fresh browser context."""
    return watched.page
