"""Leal's document, endpoint by endpoint: every documented parameter is taken with a value of its
documented type, and every documented error code is answered in its documented case.

The document has no example bodies; customers/compat/leal/fixtures/ records its parameter and
error-code tables, and these tests read them."""

import re

import pytest
from rest_framework.test import APIClient

from customers.models import Customer
from tests.compat.fixtures import load
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory, RewardFactory, StampCardFactory

PATH_PARAMETERS = {"account_id", "id"}
UNKNOWN_ID = 987654321


@pytest.fixture
def card(org, store):
    card = StampCardFactory(organization=org, store=store, name="Coffee", initial_stamps=2)
    RewardFactory(stamp_card=card, name="Free coffee", stamp_cost=5)
    return card


@pytest.fixture
def customer(store, card):
    customer = CustomerFactory(
        organization=store.organization, registered_store=store, first_name="Grace"
    )
    CustomerCardFactory(customer=customer, stamp_card=card, stamps=3)
    return customer


def base(store_id) -> str:
    return f"/compat/leal/api/v1/accounts/{store_id}"


def sent(documented: dict, samples: dict) -> dict:
    """Every documented body or query parameter, with its sample, checked against its type."""
    # The Hash `customer` is sent as its customer[name] members, as the document names them.
    parameters = {p["name"] for p in documented["parameters"]} - PATH_PARAMETERS - {"customer"}
    assert parameters == samples.keys()
    for parameter in documented["parameters"]:
        name, kind = parameter["name"], parameter["type"]
        if name not in samples:
            continue
        if kind == "Must be a String":
            assert isinstance(samples[name], str), name
        elif kind == "Must be a number.":
            assert isinstance(samples[name], int), name
        else:
            allowed = re.fullmatch(r"Must be one of: (.*)\.", kind)[1].split(", ")
            assert samples[name] in allowed, name
    return {name: str(value) for name, value in samples.items()}


def documented_codes(documented: dict) -> set[int]:
    return {error["code"] for error in documented["error_codes"]}


def test_list_customers_as_documented(api, store, customer):
    documented = load("leal", "list_customers.json")
    query = sent(documented, {"search": "Grace", "page": 1, "items": 20})

    response = api.get(f"{base(store.pk)}/customers", query)

    assert response.status_code == 200, response.json()
    assert [c["id"] for c in response.json()["customers"]] == [customer.pk]
    assert response.json()["pagination"] == {"count": 1, "items": 20, "page": 1, "pages": 1}
    answered = {
        401: APIClient().get(f"{base(store.pk)}/customers").status_code,
        404: api.get(f"{base(UNKNOWN_ID)}/customers").status_code,
    }
    assert answered == {code: code for code in documented_codes(documented)}


def test_show_customer_as_documented(api, store, customer):
    documented = load("leal", "show_customer.json")
    sent(documented, {})

    response = api.get(f"{base(store.pk)}/customers/{customer.pk}")

    assert response.status_code == 200, response.json()
    [shown] = response.json()["customer_cards"]
    assert shown["stamps_count"] == 3
    assert shown["apple_wallet_url"]
    assert shown["google_wallet_url"]
    answered = {
        401: APIClient().get(f"{base(store.pk)}/customers/{customer.pk}").status_code,
        404: api.get(f"{base(store.pk)}/customers/{UNKNOWN_ID}").status_code,
    }
    assert api.get(f"{base(UNKNOWN_ID)}/customers/{customer.pk}").status_code == 404
    assert answered == {code: code for code in documented_codes(documented)}


@pytest.mark.parametrize("send_card_links", ["true", "false", "1", "0"])
def test_create_customer_as_documented(api, store, card, send_card_links):
    documented = load("leal", "create_customer.json")
    body = sent(
        documented,
        {
            "customer[first_name]": "Ada",
            "customer[last_name]": "Lovelace",
            "customer[email]": "ada@example.com",
            "customer[phone]": "+14155550100",
            "customer[birthday]": "1815-12-10",
            "card_id": card.pk,
            "send_card_links": send_card_links,
        },
    )

    response = api.post(f"{base(store.pk)}/customers", body)

    assert response.status_code == 201, response.json()
    created = Customer.objects.get(pk=response.json()["id"])
    assert (created.first_name, created.last_name, created.email, str(created.birthday)) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
        "1815-12-10",
    )
    [enrolled] = response.json()["customer_cards"]
    assert (enrolled["card_id"], enrolled["stamps_count"]) == (card.pk, 2)  # welcome stamps
    nameless = {"customer[email]": "nameless@example.com"}
    answered = {
        401: APIClient().post(f"{base(store.pk)}/customers", body).status_code,
        404: api.post(f"{base(UNKNOWN_ID)}/customers", body).status_code,
        422: api.post(f"{base(store.pk)}/customers", nameless).status_code,
    }
    assert answered == {code: code for code in documented_codes(documented)}


def test_update_customer_as_documented(api, store, customer):
    documented = load("leal", "update_customer.json")
    body = sent(
        documented,
        {
            "customer[first_name]": "Ada",
            "customer[last_name]": "Lovelace",
            "customer[email]": "ada@example.com",
            "customer[phone]": "+14155550100",
            "customer[birthday]": "1815-12-10",
        },
    )
    url = f"{base(store.pk)}/customers/{customer.pk}"

    response = api.patch(url, body)

    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.email, str(customer.birthday)) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
        "1815-12-10",
    )
    assert api.put(url, body).status_code == 200
    answered = {
        401: APIClient().patch(url, body).status_code,
        404: api.patch(f"{base(store.pk)}/customers/{UNKNOWN_ID}", body).status_code,
        422: api.patch(url, {"customer[birthday]": "10/12/1815"}).status_code,
    }
    assert api.patch(f"{base(UNKNOWN_ID)}/customers/{customer.pk}", body).status_code == 404
    assert answered == {code: code for code in documented_codes(documented)}
