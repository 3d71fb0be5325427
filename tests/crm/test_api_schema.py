"""The generated OpenAPI schema, its docs page, and fuzzing every operation against it.

Schemathesis sends schema-valid requests, which must not be refused, and schema-invalid ones,
which must be refused; no request may fail on the server and every response must match the schema.
Its settings are in schemathesis.toml. `API_FUZZ_PROFILE=thorough` runs many more, random
examples than CI's short, derandomized run.
"""

import io
import os
from pathlib import Path

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from crm.services import api_key_create
from tests.crm.test_api_tenancy import organization_data

pytestmark = pytest.mark.django_db

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"

# 400s a schema-valid request may get, for what JSON Schema cannot say: that a value is a real
# email address or phone number when its `type` says so, that a name or id refers to a row of the
# organization, that only enum extended fields have allowed values, that an amount has no more
# decimals than its currency, that a purchase names its customer one way, not two, that a
# return names the purchase's SKUs and gives back either lines or an amount, and that a new
# customer has something to know them by (a name that is not blank, or an identifier in one of
# its source accounts: OpenAPI 3.0 cannot say "an array some item of which has a non-empty
# array").
REFUSED_BEYOND_THE_SCHEMA = {
    "sku_unknown",
    "amount_invalid",
    "email_invalid",
    "phone_invalid",
    "program_unknown",
    "tier_unknown",
    "store_unknown",
    "status_label_unknown",
    "referral_code_unknown",
    "extended_field_unknown",
}
RULES_BEYOND_THE_SCHEMA = {
    ("allowed_values", "invalid"),
    ("customer", "invalid"),
    ("lines", "invalid"),
    ("amount", "invalid"),
    (None, "required"),
}

settings.register_profile(
    "api-fuzz-ci",
    max_examples=8,
    derandomize=True,  # the same examples on every run, so that a red build is reproducible
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
settings.register_profile(
    "api-fuzz-thorough",
    parent=settings.get_profile("api-fuzz-ci"),
    max_examples=300,
    derandomize=False,
)
FUZZ_PROFILE = settings.get_profile(f"api-fuzz-{os.environ.get('API_FUZZ_PROFILE', 'ci')}")


def test_the_schema_generates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=out)
    assert "openapi: 3" in out.getvalue()


def test_the_docs_page_serves_its_own_assets(client):
    page = client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in page
    assert "/static/drf_spectacular_sidecar/" in page
    assert "cdn." not in page


@pytest.fixture
def wsgi_app(db):
    """The project's WSGI application, called in the test's own database transaction.

    A real request ends by closing the database connection; as in Django's test client, the
    calls made here keep the test's connection open.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app):
    return schemathesis.openapi.from_wsgi(
        "/api/v1/schema/", wsgi_app, config=SchemathesisConfig.from_path(CONFIG)
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def fuzz_auth(org):
    organization_data(org, "fuzz")  # real rows, so that some generated requests find them
    return {"Authorization": f"Bearer {api_key_create(organization=org, name='fuzz')[1]}"}


def refused_beyond_the_schema(response) -> bool:
    if response.status_code != 400:
        return False
    errors = response.json().get("errors") or [{"field": None, "code": None}]
    return all(
        error["code"] in REFUSED_BEYOND_THE_SCHEMA
        or (error["field"], error["code"]) in RULES_BEYOND_THE_SCHEMA
        for error in errors
    )


@schemathesis.check
def schema_valid_requests_are_accepted(ctx, response, case):
    if refused_beyond_the_schema(response):
        return None
    return positive_data_acceptance(ctx, response, case)


@schema.parametrize()
@settings(FUZZ_PROFILE)
def test_every_operation_agrees_with_the_schema(case, fuzz_auth):
    case.call_and_validate(
        headers=fuzz_auth,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            schema_valid_requests_are_accepted,
            negative_data_rejection,
        ],
    )
