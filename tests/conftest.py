import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.backends.base.creation import TEST_DATABASE_PREFIX
from django.http import HttpRequest
from django.test import Client
from django.test.utils import override_settings
from hypothesis import settings as hypothesis_settings
from pytest_django.live_server_helper import LiveServer
from rest_framework.test import APIClient

from crm.api.throttling import local_counts
from crm.services import api_key_create
from tests.crm.factories import OrganizationFactory, StaffFactory

POSTGRES_ONLY_REASON = "SQLite serialises writers, so there is no race to test"
UNDER_CI = os.environ.get("CI") == "true"

# Property tests: the same few examples on every CI run, so that a red build is reproducible;
# more by default locally, and HYPOTHESIS_PROFILE=thorough for a long search by hand.
hypothesis_settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None)
hypothesis_settings.register_profile("dev", max_examples=60, deadline=None)
hypothesis_settings.register_profile("thorough", max_examples=1000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if UNDER_CI else "dev"))


# DATABASE_URL's database, which the run leaves alone: Django makes a test database from it,
# when a test needs one, and points the connection there.
CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]
# The test databases the run used.
TEST_DATABASES: set[str] = set()


def engine_name() -> str:
    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]


def planned_test_database(config) -> str:
    """The test database Django will make from DATABASE_URL's (pytest-xdist: one per worker)."""
    database = settings.DATABASES["default"]
    name = database.get("TEST", {}).get("NAME")
    if connection.vendor == "sqlite" and name in (None, "", ":memory:"):
        return "in memory"
    name = name or TEST_DATABASE_PREFIX + database["NAME"]
    return f"{name}_gwN, one per worker" if getattr(config.option, "numprocesses", None) else name


def used_database_name() -> str:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return "in memory"
    return connection.settings_dict["NAME"]


def pytest_report_header(config):
    return (
        f"database: {engine_name()}, test database {planned_test_database(config)} "
        f"(made from DATABASE_URL's {CONFIGURED_DATABASE})"
    )


@pytest.fixture(scope="session", autouse=True)
def _record_test_database(django_db_setup, request):
    if connection.settings_dict["NAME"] != CONFIGURED_DATABASE:
        TEST_DATABASES.add(used_database_name())
    worker_output = getattr(request.config, "workeroutput", None)  # a pytest-xdist worker
    if worker_output is not None:
        worker_output["test_databases"] = sorted(TEST_DATABASES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: each worker ran on a test database of its own; the summary names them."""
    TEST_DATABASES.update(getattr(node, "workeroutput", {}).get("test_databases", []))


def pytest_collection_modifyitems(config, items):
    expected = os.environ.get("CRM_EXPECT_DATABASE")
    if expected and expected != connection.vendor:
        pytest.exit(
            f"CRM_EXPECT_DATABASE={expected}, but DATABASE_URL gives {connection.vendor}", 2
        )
    if connection.vendor != "postgresql":
        for item in items:
            marker = item.get_closest_marker("postgres_only")
            if marker is not None:
                reason = marker.kwargs.get("reason", POSTGRES_ONLY_REASON)
                item.add_marker(pytest.mark.skip(reason=f"needs PostgreSQL: {reason}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test is a failed one: CI runs everything it selects.

    (CI's SQLite run deselects the PostgreSQL-only tests with -m; its PostgreSQL run runs them.)
    """
    report = yield
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"Skipped under CI=true, which counts as a failure: {reason}"
    return report


def pytest_terminal_summary(terminalreporter):
    if TEST_DATABASES:
        used = f"test database {', '.join(sorted(TEST_DATABASES))}"
    else:
        used = "no database: no test needed one"
    terminalreporter.write_line(f"Tests ran on {engine_name()}, {used}", bold=True)


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, started without the production redirect to HTTPS.

    Its middleware reads the settings once, when the server starts, before the per-test settings
    of tests/conftest.py apply: the redirect is turned off while it starts.
    """
    addr = (
        request.config.getvalue("liveserver")
        or os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    with override_settings(SECURE_SSL_REDIRECT=False):
        server = LiveServer(addr)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # The test client speaks plain HTTP; production settings redirect that to HTTPS.
    settings.SECURE_SSL_REDIRECT = False
    # Pages render without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Rate counts are per minute and ids repeat between tests: each test starts from zero.
    cache.clear()
    local_counts.clear()


class LoginClient(Client):
    """Django's test client, whose `login()` gives authenticate() a request, as django-axes (the
    login lockout, first of the authentication backends) needs."""

    def login(self, **credentials):
        credentials.setdefault("request", HttpRequest())
        return super().login(**credentials)


@pytest.fixture
def client():
    return LoginClient()


@pytest.fixture
def org(db):
    return OrganizationFactory(slug="acme", name="Acme", default_region="IN")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(slug="globex", name="Globex", default_region="US")


@pytest.fixture
def staff(org):
    return StaffFactory(username="agent-acme", organization=org)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def api_key(org):
    return api_key_create(organization=org, name="Integration")


@pytest.fixture
def api(api_key):
    """An API client authenticated with an API key of `org`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    return client
