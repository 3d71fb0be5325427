"""Every response carries the Content-Security-Policy: scripts and styles from the product's own
files only, nothing inline, no framing."""

import pytest

from tests.loyalty.factories import CustomerCardFactory

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"


def assert_policy(response):
    policy = response[HEADER]
    directives = {}
    for part in filter(None, (part.strip() for part in policy.split(";"))):
        name, _, sources = part.partition(" ")
        directives[name] = sources
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in policy


def test_admin_pages_carry_the_policy(client, staff_client):
    assert_policy(client.get("/admin/login/"))
    assert_policy(staff_client.get("/admin/customers/customer/"))


def test_api_responses_and_the_docs_page_carry_the_policy(api, client):
    assert_policy(api.get("/api/v1/customers/"))
    assert_policy(client.get("/api/v1/customers/"))  # a 401 problem
    assert_policy(client.get("/api/v1/docs/"))
    assert_policy(client.get("/api/v1/docs/?script="))


def test_card_pages_carry_the_policy(client, org):
    card = CustomerCardFactory(customer__organization=org)
    response = client.get(f"/cards/{card.link_token}/")
    assert response.status_code == 200
    assert_policy(response)
    assert_policy(client.get("/cards/no-such-token/"))


def test_vendor_doors_carry_the_policy(client, api_key):
    response = client.get("/compat/voucherify/v1/customers", HTTP_X_APP_ID="acme")
    assert response.status_code == 401
    assert_policy(response)
    authorized = client.get(
        "/compat/voucherify/v1/customers", HTTP_X_APP_ID="acme", HTTP_X_APP_TOKEN=api_key[1]
    )
    assert authorized.status_code == 200
    assert_policy(authorized)


def test_the_docs_page_runs_no_inline_script_or_style(client):
    page = client.get("/api/v1/docs/").content.decode()
    assert "<script>" not in page
    assert "<style" not in page
    assert '<script src="/api/v1/docs/?script="></script>' in page
    script = client.get("/api/v1/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
