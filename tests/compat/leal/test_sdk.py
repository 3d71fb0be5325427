"""Leal's official Python client (`leal-sdk`) against the door: each call is the request a Leal
integration sends, and each reply must parse as the client's own model of it.

The client speaks httpx; `DjangoClientTransport` hands its requests to Django's test client, so the
door runs in the test's transaction, as with the other door tests.
"""

import httpx
import pytest
from django.test import Client
from leal import Leal
from leal.core.parse_error import ParsingError
from leal.customers.types.create_customers_request_customer import (
    CreateCustomersRequestCustomer,
)
from leal.customers.types.update_customers_request_customer import (
    UpdateCustomersRequestCustomer,
)
from leal.errors.not_found_error import NotFoundError
from leal.errors.unprocessable_entity_error import UnprocessableEntityError

from customers.models import Customer
from loyalty.models import StampTransaction
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory

BASE_URL = "http://testserver/compat/leal"

# Bugs of leal-sdk 0.0.16's models, not of the replies: arrays of objects are typed as arrays of
# strings (`customers`, `customer_cards`, `external_references`, `available_rewards`), and values
# its own descriptions call nullable ("or null if active") are typed as plain strings
# (`archived_at`, `expires_at`, and a customer's optional `birthday`, `email` and `phone`).
# Parsing fails on those alone; `sdk_reply` accepts such a failure and nothing else.
MISTYPED = {
    "customers",
    "customer_cards",
    "external_references",
    "available_rewards",
    "archived_at",
    "expires_at",
    "birthday",
    "email",
    "phone",
}


class DjangoClientTransport(httpx.BaseTransport):
    """httpx requests answered by Django's test client."""

    def __init__(self):
        self.client = Client()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in ("host", "content-length", "content-type")
        }
        response = self.client.generic(
            request.method,
            f"{request.url.path}?{request.url.query.decode()}",
            data=request.content,
            content_type=request.headers.get("content-type", ""),
            headers=headers,
        )
        return httpx.Response(
            response.status_code, headers=dict(response.items()), content=response.content
        )


def sdk_reply(call) -> dict | list:
    """The reply to `call()`, as JSON; a failure to parse it counts only where MISTYPED says."""
    try:
        parsed = call()
    except ParsingError as failure:
        unparsed = failure
    else:
        if isinstance(parsed, list):
            return [item.model_dump(by_alias=True) for item in parsed]
        return parsed.model_dump(by_alias=True)
    problems = [
        (error["loc"], error["type"])
        for error in unparsed.cause.errors()
        if error["type"] != "string_type"
        or next(part for part in error["loc"] if isinstance(part, str)) not in MISTYPED
    ]
    assert problems == [], unparsed.body
    return unparsed.body


@pytest.fixture
def sdk(api_key):
    return Leal(
        base_url=BASE_URL,
        token=api_key[1],
        max_retries=0,
        httpx_client=httpx.Client(transport=DjangoClientTransport()),
    )


@pytest.fixture
def holder(org, store, card):
    customer = CustomerFactory(organization=org, registered_store=store)
    return CustomerCardFactory(customer=customer, stamp_card=card, stamps=4)


def once(key: str) -> dict:
    return {"additional_headers": {"Idempotency-Key": key}}


# --- customers --------------------------------------------------------------------------------


def test_create_read_update_and_list_a_customer(sdk, store, card):
    created = sdk_reply(
        lambda: sdk.customers.create(
            store.pk,
            customer=CreateCustomersRequestCustomer(
                first_name="Ana", email="ana@example.com", metadata={"tier": "gold"}
            ),
            card_id=card.pk,
        )
    )
    read = sdk_reply(lambda: sdk.customers.get(store.pk, created["id"]))
    updated = sdk_reply(
        lambda: sdk.customers.update(
            store.pk,
            created["id"],
            customer=UpdateCustomersRequestCustomer(last_name="Ruiz", metadata={"vip": True}),
        )
    )
    listed = sdk_reply(lambda: sdk.customers.list(store.pk, search="ana@example.com"))

    assert created["customer_card"]["card_id"] == card.pk
    assert created["customer_cards"][0]["stamps_count"] == 2
    assert read["id"] == created["id"]
    assert (updated["last_name"], updated["metadata"]) == ("Ruiz", {"tier": "gold", "vip": True})
    assert [c["id"] for c in listed["customers"]] == [created["id"]]
    assert listed["pagination"]["count"] == 1


def test_a_taken_email_is_the_validation_error_the_client_raises(sdk, store, org):
    CustomerFactory(organization=org, email="taken@example.com")

    with pytest.raises(UnprocessableEntityError) as refused:
        sdk.customers.create(
            store.pk,
            customer=CreateCustomersRequestCustomer(first_name="B", email="taken@example.com"),
        )

    assert refused.value.body.errors == {"email": ["has already been taken"]}


def test_a_lookup_by_an_unknown_source_finds_nobody(sdk, store, org):
    CustomerFactory(organization=org, registered_store=store)

    listed = sdk_reply(lambda: sdk.customers.list(store.pk, source="square", external_id="C-1"))

    assert (listed["customers"], listed["pagination"]["count"]) == ([], 0)


# --- customer cards -------------------------------------------------------------------------------


def test_stamping_answers_the_card_the_client_parses(sdk, store, holder):
    stamped = sdk_reply(
        lambda: sdk.customer_cards.stamp(
            store.pk, holder.customer_id, holder.pk, stamps=2, skip_notifications=True
        )
    )

    assert (stamped["id"], stamped["stamps_count"], stamped["stamps_remaining"]) == (
        holder.pk,
        6,
        2,
    )
    assert [r["name"] for r in stamped["available_rewards"]] == ["Free coffee"]


def test_a_stamp_retried_with_its_idempotency_key_is_applied_once(sdk, store, holder):
    def stamp():
        return sdk_reply(
            lambda: sdk.customer_cards.stamp(
                store.pk, holder.customer_id, holder.pk, stamps=1, request_options=once("s-1")
            )
        )

    first, retry = stamp(), stamp()

    assert retry == first
    assert first["stamps_count"] == 5
    assert StampTransaction.objects.filter(card=holder, kind="add").count() == 1


def test_a_redemption_retried_with_its_idempotency_key_is_applied_once(sdk, store, holder, card):
    coffee = card.rewards.get(name="Free coffee")
    holder.stamps = 7
    holder.save()

    def redeem():
        return sdk_reply(
            lambda: sdk.customer_cards.redeem(
                store.pk,
                holder.customer_id,
                holder.pk,
                reward_id=coffee.pk,
                request_options=once("r-1"),
            )
        )

    first, retry = redeem(), redeem()

    assert retry == first
    assert (first["success"], first["redemption"]["stamps_remaining"]) == (True, 2)
    assert StampTransaction.objects.filter(card=holder, reward=coffee).count() == 1


def test_a_customers_cards_list_and_detail(sdk, store, holder):
    listed = sdk_reply(lambda: sdk.customer_cards.list(store.pk, holder.customer_id))
    detail = sdk_reply(lambda: sdk.customer_cards.get(store.pk, holder.customer_id, holder.pk))

    assert [c["id"] for c in listed] == [holder.pk]
    assert (detail["customer_id"], detail["uuid"]) == (holder.customer_id, holder.link_token)


def test_an_unknown_card_is_the_not_found_error(sdk, store, holder):
    with pytest.raises(NotFoundError):
        sdk.customer_cards.get(store.pk, holder.customer_id, 0)


# --- templates --------------------------------------------------------------------------------


def test_cards_carry_their_design(sdk, store, card):
    [listed] = sdk_reply(lambda: sdk.cards.list(store.pk))

    assert (listed["id"], listed["stamps_required"], listed["initial_stamps"]) == (card.pk, 8, 2)
    assert listed["card_color"].startswith("#")
    assert listed["stamp_icon"]
    assert listed["auxiliary_fields"] == []


def test_rewards_carry_their_timestamps(sdk, store, card):
    rewards = sdk_reply(lambda: sdk.rewards.list(store.pk, card_id=card.pk))

    assert [(r["name"], r["position"]) for r in rewards] == [("Free coffee", 1), ("Free cake", 2)]
    assert all(r["created_at"] and r["updated_at"] for r in rewards)


# --- across doors -----------------------------------------------------------------------------


def test_a_customer_of_another_door_is_reached_under_the_account(sdk, store, org, card):
    native = CustomerFactory(organization=org, registered_store=None, first_name="Noor")
    held = CustomerCardFactory(customer=native, stamp_card=card, stamps=1)

    read = sdk_reply(lambda: sdk.customers.get(store.pk, native.pk))
    stamped = sdk_reply(lambda: sdk.customer_cards.stamp(store.pk, native.pk, held.pk, stamps=1))
    listed = sdk_reply(lambda: sdk.customers.list(store.pk, search="Noor"))

    assert read["id"] == native.pk
    assert stamped["stamps_count"] == 2
    assert [c["id"] for c in listed["customers"]] == [native.pk]
    assert Customer.objects.get(pk=native.pk).registered_store is None
