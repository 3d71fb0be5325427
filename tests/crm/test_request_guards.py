"""Input no door can take is a 4xx naming the field, in each door's own error shape."""

import base64

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from customers.models import Customer, ExtendedFieldDefinition
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import (
    CustomerCardFactory,
    RewardFactory,
    StampCardFactory,
)

LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
OVER_LIMIT = b'{"first_name": "' + b"x" * LIMIT + b'"}'
DEEP = "[" * 50_000 + "]" * 50_000


@pytest.fixture
def voucherify(org, api_key):
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=org.slug, HTTP_X_APP_TOKEN=api_key[1])
    return client


@pytest.fixture
def capillary(api_key):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"u:{api_key[1]}".encode()).decode()
    )
    return client


@pytest.fixture
def store(org):
    return StoreFactory(organization=org)


def leal_base(store) -> str:
    return f"/compat/leal/api/v1/accounts/{store.pk}"


def test_a_body_over_the_limit_is_413_with_the_limit_in_the_problem(api):
    response = api.post("/api/v1/customers/", OVER_LIMIT, content_type="application/json")

    assert response.status_code == 413
    problem = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert problem["code"] == "payload_too_large"
    assert str(LIMIT) in problem["detail"]
    assert not Customer.objects.exists()


def test_a_body_over_the_limit_is_413_in_the_vendors_shape(voucherify, capillary, api):
    vendor = voucherify.post(
        "/compat/voucherify/v1/customers", OVER_LIMIT, content_type="application/json"
    )
    capillary_reply = capillary.post(
        "/compat/capillary/v2/customers", OVER_LIMIT, content_type="application/json"
    )

    assert vendor.status_code == 413
    assert vendor.json()["code"] == 413
    assert str(LIMIT) in vendor.json()["message"]
    assert capillary_reply.status_code == 413
    assert capillary_reply.json()["errors"][0]["code"] == 413


def test_an_idempotent_post_over_the_limit_is_413_too(api):
    response = api.post(
        "/api/v1/customers/", OVER_LIMIT, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 413


@pytest.mark.parametrize("idempotency_key", [None, "k-1"])
def test_deeply_nested_json_is_400(api, idempotency_key):
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}

    response = api.post("/api/v1/customers/", DEEP, content_type="application/json", **headers)

    assert response.status_code == 400
    assert "nested deeper than 32" in response.json()["detail"]


def test_json_a_little_too_deep_for_custom_fields_is_400(api):
    nested = {}
    for _ in range(40):
        nested = {"a": nested}

    response = api.post(
        "/api/v1/customers/", {"email": "a@example.com", "custom_fields": nested}, format="json"
    )

    assert response.status_code == 400
    assert not Customer.objects.exists()


def test_a_number_that_is_not_finite_is_400(api):
    response = api.post(
        "/api/v1/customers/",
        '{"email": "a@example.com", "custom_fields": {"x": 1e400}}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "not a finite number" in response.json()["detail"]


def test_nul_in_a_query_parameter_is_400_naming_it(api, voucherify):
    native = api.get("/api/v1/customers/", {"search": "ana\x00"})
    vendor = voucherify.get("/compat/voucherify/v1/customers", {"email": "a\x00@example.com"})

    assert native.status_code == 400
    assert native.json()["errors"][0]["field"] == "search"
    assert vendor.status_code == 400
    assert vendor.json()["details"].startswith("email:")


def test_nul_in_a_path_parameter_is_400_naming_it(voucherify):
    response = voucherify.get("/compat/voucherify/v1/customers/s%001")

    assert response.status_code == 400
    assert response.json()["details"].startswith("key:")


@pytest.mark.parametrize("header", ["HTTP_IDEMPOTENCY_KEY", "HTTP_USER_CONTEXT_ENTITY_ID"])
def test_nul_in_a_header_is_400_naming_it(api, header):
    response = api.post(
        "/api/v1/customers/", {"email": "a@example.com"}, format="json", **{header: "a\x00"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].lower() == header[5:].replace("_", "-").lower()
    assert not Customer.objects.exists()


def test_nul_in_a_form_field_is_refused_by_leal(api, store):
    response = api.post(
        f"{leal_base(store)}/customers",
        "customer%5Bfirst_name%5D=Ana&customer%5Bemail%5D=a%40example.com&search=a%00",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["search"]


@pytest.mark.parametrize("value", ["²", "٣", str(2**64), "9" * 5000])
def test_leal_page_numbers_and_limits_are_422_naming_them(api, store, value):
    for name in ("page", "items"):
        response = api.get(f"{leal_base(store)}/customers", {name: value})

        assert response.status_code == 422, (name, value)
        assert list(response.json()["errors"]) == [name]


@pytest.mark.parametrize("value", ["²", "9" * 5000])
def test_leal_ids_that_are_no_ids_are_404(api, store, value):
    assert api.get(f"/compat/leal/api/v1/accounts/{value}/customers").status_code == 404
    assert api.get(f"{leal_base(store)}/customers/{value}").status_code == 404


def test_leal_stamps_and_reward_ids_in_unicode_digits_are_422(api, org, store):
    customer = CustomerFactory(organization=org, registered_store=store)
    stamp_card = StampCardFactory(organization=org, store=store)
    RewardFactory(stamp_card=stamp_card)
    card = CustomerCardFactory(customer=customer, stamp_card=stamp_card)
    url = f"{leal_base(store)}/customers/{customer.pk}/customer_cards/{card.pk}"

    stamps = api.post(f"{url}/stamp", {"stamps": "²"}, format="json")
    reward = api.post(f"{url}/redeem", {"reward_id": "٣"}, format="json")

    assert (stamps.status_code, list(stamps.json()["errors"])) == (422, ["stamps"])
    assert (reward.status_code, list(reward.json()["errors"])) == (422, ["reward_id"])


@pytest.mark.parametrize("birthday", ["2020-02-31", "0000-01-01"])
def test_impossible_birthdays_are_refused_naming_the_field(api, voucherify, store, birthday):
    leal = api.post(
        f"{leal_base(store)}/customers",
        {"customer": {"first_name": "Ana", "email": "a@example.com", "birthday": birthday}},
        format="json",
    )
    vendor = voucherify.post(
        "/compat/voucherify/v1/customers", {"source_id": "s", "birthdate": birthday}, format="json"
    )

    assert (leal.status_code, list(leal.json()["errors"])) == (422, ["birthday"])
    assert vendor.status_code == 400
    assert vendor.json()["details"].startswith("birthdate:")
    assert not Customer.objects.exists()


@pytest.mark.parametrize("value", ["²", str(2**63), "9" * 5000])
def test_voucherify_page_numbers_past_the_database_range_are_400(voucherify, value):
    response = voucherify.get("/compat/voucherify/v1/customers", {"page": value})

    assert response.status_code == 400
    assert response.json()["details"].startswith("page:")


def test_capillary_customer_ids_in_unicode_digits_are_404(capillary):
    assert capillary.get("/compat/capillary/v2/customers/²").status_code == 404
    assert capillary.get("/compat/capillary/v2/customers", {"customerId": "²"}).status_code == 404


def test_jericommerce_programme_ids_in_unicode_digits_are_404(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=api_key[1])

    response = client.post("/compat/jericommerce/v1/programs/²/integrations/api", [], format="json")

    assert response.status_code == 404
    assert response.json()["field"] == "programId"


@pytest.mark.parametrize("value", ["²", "5" * 5000, "٣"])
def test_integer_extended_fields_refuse_other_digits_on_every_door(api, capillary, org, value):
    ExtendedFieldDefinition.objects.create(organization=org, name="size", data_type="integer")
    native = api.post(
        "/api/v1/customers/",
        {"email": "a@example.com", "extended_fields": {"size": value}},
        format="json",
    )
    vendor = capillary.post(
        "/compat/capillary/v2/customers",
        {
            "profiles": [
                {"source": "INSTORE", "identifiers": [{"type": "email", "value": "a@example.com"}]}
            ],
            "extendedFields": {"size": value},
        },
        format="json",
    )

    assert native.status_code == 400
    assert native.json()["errors"][0] == {
        "field": "extended_fields.size",
        "code": "extended_field_type",
        "message": native.json()["errors"][0]["message"],
    }
    assert vendor.status_code == 400
    assert vendor.json()["errors"][0]["field"] == "extendedFields.size"
    assert not Customer.objects.exists()
