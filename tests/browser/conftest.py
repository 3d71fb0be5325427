"""Browser tests: Playwright drives the system Chromium (Debian's `chromium` package) against
pytest-django's live server. No browser is ever downloaded: `.ci/run` installs the package.

SCREENSHOTS=docs/screenshots makes the tests that take screenshots save them there.
"""

import importlib
import os
import shutil

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect, sync_playwright

from crm.models import User
from tests.crm.factories import StaffFactory

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Short, so that a failing step fails in seconds rather than minutes.
TIMEOUT_MS = 8_000
# A laptop screen.
VIEWPORT = {"width": 1440, "height": 900}

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per module; each test gets its own context (cookies) from it."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(
            f"no Chromium at {CHROMIUM} for the browser tests: install it with "
            "`apt-get install chromium` (or set CHROMIUM to its path)"
        )
    # Playwright's sync API runs an asyncio loop in this thread, and Django refuses ORM calls
    # made while a loop runs unless told that it is safe: it is, the loop only drives the browser.
    # Only while the browser runs: a subprocess started by another test (`manage.py check
    # --deploy`) would inherit the variable, and the deployment checks refuse it.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        # --no-sandbox: the tests run as root, where Chromium's sandbox cannot start.
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # The live server speaks plain HTTP: secure-only cookies would never come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def new_page(browser, live_server):
    """Opens a fresh browser context (one staff member's session) on the live server."""
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


DATA_MIGRATIONS = [
    ("customers.migrations.0002_global_extended_fields", "add_global_fields"),
    ("customers.migrations.0007_staff_groups", "create_groups"),
    ("loyalty.migrations.0008_staff_see_purchases", "grant"),
    ("loyalty.migrations.0011_point_value_and_staff_purchases", "grant"),
    ("loyalty.migrations.0013_returns", "grant"),
]


@pytest.fixture(autouse=True)
def _migrated_data(transactional_db):
    """The rows the data migrations make: the global extended fields, the staff groups and
    their permissions.

    The live server needs a transactional database, whose tables are flushed after every
    transactional test, and those rows with them: each test puts them back (they are idempotent).
    """
    configs = list(apps.get_app_configs())
    modules = [config.models_module for config in configs]
    try:
        for module, function in DATA_MIGRATIONS:
            getattr(importlib.import_module(module), function)(apps, None)
    finally:
        # create_groups marks the app configs as it goes, as a migration may for its historical
        # apps; these are the project's own, which must stay as they were.
        for config, module in zip(configs, modules, strict=True):
            config.models_module = module


@pytest.fixture
def staff_groups(_migrated_data):
    return {group.name: group for group in Group.objects.filter(name__in=["agent", "supervisor"])}


@pytest.fixture
def member_of(staff_groups):
    """A staff member whose group alone decides what they may do."""

    def make(group: str, organization, username: str) -> User:
        user = StaffFactory(username=username, organization=organization)
        user.user_permissions.clear()
        user.groups.add(staff_groups[group])
        return user

    return make
