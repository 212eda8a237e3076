"""Fixtures shared by every test area."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from helhet import testing

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


@pytest.fixture
def refdata(db: None) -> None:
    testing.ensure_reference_data()


@pytest.fixture
def builders(refdata: None) -> Any:
    """The builders in helhet.testing, with reference data loaded."""
    return testing


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="nb-NO", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def login(live_server: Any) -> Any:
    """login(page, username[, password]): log in through the real login form of the live server."""

    def log_in(page: Any, username: str, password: str = testing.PASSWORD) -> None:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")

    return log_in


TESTS_DIR = os.path.dirname(__file__)


@pytest.fixture
def locked_queries(django_assert_num_queries: Any) -> Any:
    """locked_queries("worklist"): the number of queries a page may make, locked in tests/**/query_counts.json."""
    import glob
    import json

    counts: dict[str, int] = {}
    for path in sorted(glob.glob(os.path.join(TESTS_DIR, "**", "query_counts.json"), recursive=True)):
        with open(path) as handle:
            counts.update(json.load(handle))

    def lock(name: str) -> Any:
        return django_assert_num_queries(counts[name])

    return lock
