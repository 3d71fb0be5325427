"""The native API reads its input as its schema describes it: unknown body fields, values of
another JSON type, malformed query parameters and forged cursors are a 4xx naming the field."""

import base64
import json
import re
from urllib.parse import urlencode

import pytest
from django.urls import resolve
from django_filters import rest_framework as filters
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from customers.api.views import CustomerFilter
from customers.models import Customer
from tests.crm.factories import StoreFactory
from tests.crm.test_api_tenancy import organization_data, path_values
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db
CUSTOMERS = "/api/v1/customers/"


def refused_fields(response, status=400) -> list[str]:
    assert response.status_code == status, response.content
    return [error["field"] for error in response.json()["errors"]]


# --- bodies ------------------------------------------------------------------------------------


def test_an_unknown_body_field_is_refused_naming_it(api, org):
    response = api.post(CUSTOMERS, {"first_name": "Ann", "frist_name": "Ann"}, format="json")
    assert refused_fields(response) == ["frist_name"]
    assert response.json()["errors"][0]["code"] == "unknown_field"
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"address": {"city": "Pune", "town": "Pune"}}, "address.town"),
        (
            {"channels": [{"type": "email", "value": "a@example.com", "kind": 1}]},
            "channels[0].kind",
        ),
        (
            {"channels": [{"type": "email", "value": "a@example.com", "meta": {"home": True}}]},
            "channels[0].meta.home",
        ),
        (
            {
                "source_accounts": [
                    {"source": "INSTORE", "identifiers": [{"type": "email", "value": "a@b.co"}]},
                    {"source": "WECHAT", "identifiers": [{"type": "cuid", "value": "1", "x": 1}]},
                ]
            },
            "source_accounts[1].identifiers[0].x",
        ),
    ],
)
def test_an_unknown_field_is_refused_at_any_depth(api, org, body, field):
    assert refused_fields(api.post(CUSTOMERS, body, format="json")) == [field]


def test_a_read_only_field_is_not_an_input(api, org):
    response = api.post("/api/v1/stores/", {"id": 7, "code": "a", "name": "A"}, format="json")
    assert refused_fields(response) == ["id"]


def test_an_unknown_field_of_a_batch_item_fails_that_item(api, org):
    response = api.post(
        f"{CUSTOMERS}batch/",
        {"customers": [{"email": "a@example.com"}, {"email": "b@example.com", "mail": "x"}]},
        format="json",
    )
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["status"] == "created"
    assert (second["status"], [e["field"] for e in second["errors"]]) == ("failed", ["mail"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": 0}, "external_id"),
        ({"email_verified": "true"}, "email_verified"),
        ({"email_verified": 1}, "email_verified"),
        ({"enrollments": [{"program_id": "1"}]}, "enrollments[0].program_id"),
        ({"enrollments": [{"program_id": True}]}, "enrollments[0].program_id"),
        ({"stamp_card_ids": [1, "2"]}, "stamp_card_ids[1]"),
        ({"birthday": "20000101"}, "birthday"),
        ({"enrollments": [{"program_id": 1, "tier_expires_at": "2030-01-01"}]}, None),
    ],
)
def test_a_value_of_another_json_type_is_refused(api, org, body, field):
    response = api.post(CUSTOMERS, body, format="json")
    fields = refused_fields(response)
    assert fields == [field or "enrollments[0].tier_expires_at"]


def test_a_form_encoded_body_is_refused(api, org):
    response = api.post("/api/v1/stores/", {"code": "a", "name": "A"})  # multipart
    assert response.status_code == 415


def test_an_empty_patch_of_an_extended_field_changes_nothing(api, org):
    created = api.post(
        "/api/v1/extended-fields/",
        {"name": "size", "data_type": "enum", "allowed_values": ["S", "M"]},
        format="json",
    ).json()
    response = api.patch(f"/api/v1/extended-fields/{created['id']}/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["allowed_values"] == ["S", "M"]


def test_an_unknown_reward_is_not_found(api, org):
    card = CustomerCardFactory(customer__organization=org)
    response = api.post(f"/api/v1/cards/{card.code}/redeem/", {"reward_id": 999}, format="json")
    assert refused_fields(response, 404) == ["reward_id"]


# --- query parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/coupons/?series_id=0", "series_id"),
        ("/api/v1/coupons/?series_id=1.5", "series_id"),
        (f"/api/v1/coupons/?series_id={2**63}", "series_id"),
        ("/api/v1/coupons/?series_id=%C2%B2", "series_id"),  # ²
        ("/api/v1/coupons/?redeemed=null", "redeemed"),
        ("/api/v1/coupons/?redeemed=", "redeemed"),
        (f"{CUSTOMERS}?program=" + "9" * 5000, "program"),
        (f"{CUSTOMERS}?tier=40000", "tier"),
        (f"{CUSTOMERS}?updated_before=", "updated_before"),
        (f"{CUSTOMERS}?updated_before=2020-01-01", "updated_before"),
        (f"{CUSTOMERS}?created_after=2020-02-31T00:00:00Z", "created_after"),
        (f"{CUSTOMERS}?created_after=2020-01-01T00:00:00", "created_after"),
        (f"{CUSTOMERS}?status=", "status"),
    ],
)
def test_a_query_parameter_the_schema_refuses_is_refused_naming_it(api, org, url, field):
    assert refused_fields(api.get(url)) == [field]


def test_typed_query_parameters_are_read_as_the_schema_says(api, org):
    customer = CustomerFactory(organization=org)
    enrollment = EnrollmentFactory(customer=customer)
    found = api.get(
        CUSTOMERS, {"program": enrollment.program_id, "created_after": "2000-01-01T00:00:00Z"}
    )
    assert [c["id"] for c in found.json()["results"]] == [customer.public_id]
    assert api.get("/api/v1/coupons/", {"redeemed": "false"}).status_code == 200


def native_lists(data: dict):
    """(url, the query parameters its schema declares) for every list of the native API."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        url = path.format(**path_values(path, data))
        match = resolve(url)
        if match.func.actions.get("get") == "list":
            parameters = operations["get"].get("parameters", [])
            yield url, {p["name"] for p in parameters if p["in"] == "query"}


def test_every_list_refuses_a_parameter_it_does_not_know_naming_it(api, org):
    walked = 0
    for url, declared in native_lists(organization_data(org, "mine")):
        response = api.get(url, {"colour": "blue", "sort": "name", "format": "json"})
        assert refused_fields(response) == ["colour", "sort"], url
        assert {e["code"] for e in response.json()["errors"]} == {"unknown_parameter"}
        # What the schema declares is known, however wrong its value.
        response = api.get(url, dict.fromkeys(declared, "☃"))
        assert response.status_code < 500, url
        assert "unknown_parameter" not in response.content.decode(), url
        walked += 1
    assert walked >= 14


def test_a_list_without_pages_knows_no_page_size(api, org):
    assert refused_fields(api.get("/api/v1/status-labels/", {"page_size": 10})) == ["page_size"]


def test_a_filter_added_to_the_filterset_is_known_at_once(api, org, monkeypatch):
    CustomerFactory(organization=org, first_name="Ann")
    CustomerFactory(organization=org, first_name="Bob")
    assert refused_fields(api.get(CUSTOMERS, {"first_name": "Ann"})) == ["first_name"]
    monkeypatch.setitem(CustomerFilter.base_filters, "first_name", filters.CharFilter("first_name"))
    found = api.get(CUSTOMERS, {"first_name": "Ann"}).json()["results"]
    assert [c["first_name"] for c in found] == ["Ann"]


def test_the_vendor_doors_keep_their_own_parameter_rules(org, api_key):
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=org.slug, HTTP_X_APP_TOKEN=api_key[1])
    response = client.get("/compat/voucherify/v1/customers", {"colour": "blue"})
    # Voucherify's own refusal, in its own shape, not the native API's problem details.
    assert response.status_code == 400
    assert response.json()["key"] == "invalid"
    assert "unknown_parameter" not in response.content.decode()


@pytest.mark.parametrize(
    "ordering",
    ["first_name", "", "email,", "--email", " email", "email,pk", "?", "created_at__year"],
)
def test_an_ordering_the_list_does_not_offer_is_refused_naming_it(api, org, ordering):
    assert refused_fields(api.get(CUSTOMERS, {"ordering": ordering})) == ["ordering"]


def test_an_ordering_of_several_terms_orders_by_each(api, org):
    CustomerFactory(organization=org, last_name="Cole", email="b@example.com")
    CustomerFactory(organization=org, last_name="Adams", email="c@example.com")
    CustomerFactory(organization=org, last_name="Adams", email="a@example.com")
    found = api.get(CUSTOMERS, {"ordering": "last_name,-email"}).json()["results"]
    assert [c["email"] for c in found] == ["c@example.com", "a@example.com", "b@example.com"]


def test_the_schema_states_the_orderings_a_list_takes(openapi):
    [ordering] = [
        p
        for p in openapi["paths"]["/api/v1/customers/"]["get"]["parameters"]
        if p["name"] == "ordering"
    ]
    pattern = re.compile(ordering["schema"]["pattern"])
    assert pattern.fullmatch("-created_at,email,-last_name")
    assert not pattern.fullmatch("first_name")
    assert not pattern.fullmatch("email,")


# --- cursors -----------------------------------------------------------------------------------


def cursor(**tokens) -> str:
    return base64.b64encode(urlencode(tokens).encode()).decode()


@pytest.mark.parametrize(
    "given",
    [
        "not base64 at all",
        "AAAA",  # decodes to NUL bytes: no token at all
        "%%%",  # nothing base64 would decode
        cursor(o="9" * 5000),
        cursor(o="²"),
        cursor(p="not a time"),
        cursor(p="2020-02-31 00:00:00+00:00"),
        cursor(p="a\x00b"),
        cursor(r="1", p="99999-01-01"),
    ],
)
@pytest.mark.parametrize("url", [CUSTOMERS, "/api/v1/stores/", "/api/v1/coupons/"])
def test_a_forged_cursor_finds_no_page(api, org, url, given):
    response = api.get(url, {"cursor": given})
    assert refused_fields(response, 404) == ["cursor"]


def test_a_cursor_ordered_by_name_takes_any_name(api, org):
    for name in ["Adams", "Baker", "Cole"]:
        CustomerFactory(organization=org, last_name=name)
    first = api.get(CUSTOMERS, {"ordering": "last_name", "page_size": 2}).json()
    rest = api.get(first["next"]).json()
    assert [c["last_name"] for c in rest["results"]] == ["Cole"]
    StoreFactory(organization=org)
    assert api.get("/api/v1/stores/", {"cursor": cursor(o="1000")}).status_code == 200


# --- the schema --------------------------------------------------------------------------------


@pytest.fixture
def openapi(client):
    return json.loads(client.get("/api/v1/schema/?format=json").content)


def test_the_schema_says_input_bodies_take_no_other_fields(openapi):
    components = openapi["components"]["schemas"]
    inputs = [name for name in components if name.endswith("Request")]
    assert {"CustomerCreateRequest", "AddressInputRequest", "StoreRequest"} <= set(inputs)
    assert all(components[name]["additionalProperties"] is False for name in inputs)


def test_the_schema_states_the_bounds_of_query_parameters(openapi):
    parameters = {
        p["name"]: p["schema"] for p in openapi["paths"]["/api/v1/coupons/"]["get"]["parameters"]
    }
    assert parameters["series_id"] == {
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "maximum": 2**63 - 1,
        "example": 1042,
    }
    assert parameters["page_size"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
        "default": 50,
    }
    assert parameters["redeemed"] == {"type": "boolean"}
    body = openapi["paths"]["/api/v1/customers/"]["post"]["requestBody"]["content"]
    assert list(body) == ["application/json"]
