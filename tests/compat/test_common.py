"""What every vendor adapter shares: thin modules, no 500s on odd input, limits, unknown URLs."""

import ast
import base64
from pathlib import Path

import pytest
from rest_framework.test import APIClient

import customers.compat
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory, ProgramFactory

COMPAT = Path(customers.compat.__file__).parent
ADAPTERS = sorted(COMPAT.rglob("*.py"))
MODEL_WRITES = {
    "save",
    "create",
    "bulk_create",
    "get_or_create",
    "update_or_create",
    "update",
    "delete",
    "bulk_update",
}


@pytest.mark.parametrize("module", ADAPTERS, ids=lambda path: str(path.relative_to(COMPAT)))
def test_adapters_write_nothing_themselves(module):
    """Writes go through the services; an adapter parses, calls and renders."""
    writes = [
        f"{module.relative_to(COMPAT)}:{node.lineno} .{node.func.attr}()"
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in MODEL_WRITES
    ]
    assert writes == []


@pytest.fixture
def everywhere(org, api_key):
    """(client, method, url) for every vendor endpoint that takes a body."""
    key = api_key[1]
    program = ProgramFactory(organization=org)
    store = StoreFactory(organization=org)
    customer = CustomerFactory(organization=org, registered_store=store, external_id="s1")
    customer.source_accounts.create(source="INSTORE")
    card = CustomerCardFactory(customer=customer)
    clients = {}
    for vendor, credentials in {
        "jericommerce": {"HTTP_AUTHORIZATION": key},
        "capillary": {
            "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"u:{key}".encode()).decode()
        },
        "voucherify": {"HTTP_X_APP_ID": org.slug, "HTTP_X_APP_TOKEN": key},
        "leal": {"HTTP_AUTHORIZATION": f"Bearer {key}"},
    }.items():
        clients[vendor] = APIClient()
        clients[vendor].credentials(**credentials)
    leal = f"/compat/leal/api/v1/accounts/{store.pk}/customers"
    return [
        (
            clients["jericommerce"],
            "post",
            f"/compat/jericommerce/v1/programs/{program.pk}/integrations/api",
        ),
        (clients["capillary"], "post", "/compat/capillary/v2/customers"),
        (
            clients["capillary"],
            "put",
            f"/compat/capillary/v2/customers/{customer.pk}?source=INSTORE",
        ),
        (clients["voucherify"], "post", "/compat/voucherify/v1/customers"),
        (clients["voucherify"], "put", "/compat/voucherify/v1/customers/s1"),
        (clients["leal"], "post", leal),
        (clients["leal"], "patch", f"{leal}/{customer.pk}"),
        (clients["leal"], "post", f"{leal}/{customer.pk}/customer_cards/{card.pk}/stamp"),
        (clients["leal"], "post", f"{leal}/{customer.pk}/customer_cards/{card.pk}/redeem"),
    ]


@pytest.mark.parametrize(
    "body",
    ['{"broken": ', "[1, 2]", '"text"', "null", "{}", '{"profiles": [1], "customer": 3}'],
    ids=["malformed", "list", "string", "null", "empty", "wrong-types"],
)
def test_odd_bodies_are_refused_with_a_4xx_never_a_500(everywhere, body):
    for client, method, url in everywhere:
        response = getattr(client, method)(url, body, content_type="application/json")
        assert 400 <= response.status_code < 500 or response.status_code in (200, 201), (
            method,
            url,
            response.status_code,
        )
        assert response["Content-Type"].startswith("application/json")


def test_unknown_urls_and_methods_answer_json(api):
    missing = api.get("/compat/capillary/v9/nothing")
    not_allowed = api.delete("/compat/capillary/v2/customers")

    assert missing.status_code == 404
    assert missing.json()["code"] == 404
    assert not_allowed.status_code in (401, 405)
    assert not_allowed["Content-Type"].startswith("application/json")


def test_the_organizations_rate_limit_applies(org, api_key):
    org.api_requests_per_minute = 2
    org.save()
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=org.slug, HTTP_X_APP_TOKEN=api_key[1])

    codes = [client.get("/compat/voucherify/v1/customers").status_code for _ in range(3)]

    assert codes == [200, 200, 429]
