"""Where Leal's API and the CRM's rules meet: the reply shapes Leal's reference gives, the lookups
the door takes or refuses, the organization-wide customer, and what the door keeps of a body."""

import pytest

from customers.models import Customer
from loyalty.models import StampTransaction
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory, RewardFactory, StampCardFactory


@pytest.fixture
def other_store(org):
    return StoreFactory(organization=org, code="second.till")


@pytest.fixture
def card(org, store):
    card = StampCardFactory(organization=org, store=store, name="Coffee")
    RewardFactory(stamp_card=card, name="Free coffee", stamp_cost=5)
    return card


def base(store) -> str:
    return f"/compat/leal/api/v1/accounts/{store.pk}"


# --- reply shapes -----------------------------------------------------------------------------


def test_a_stamp_answers_the_updated_customer_card_itself(api, store, org, card):
    held = CustomerCardFactory(customer=CustomerFactory(organization=org), stamp_card=card)

    response = api.post(
        f"{base(store)}/customers/{held.customer_id}/customer_cards/{held.pk}/stamp",
        {"stamps": 1},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["id"] == held.pk
    assert (response.json()["stamps_count"], response.json()["account_id"]) == (1, store.pk)
    assert "success" not in response.json()


def test_a_create_with_a_card_answers_the_issued_customer_card(api, store, card):
    response = api.post(
        f"{base(store)}/customers",
        {"customer": {"first_name": "Ana", "email": "ana@example.com"}, "card_id": card.pk},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["customer_card"]["card_id"] == card.pk
    assert response.json()["customer_card"]["available_rewards"] == []


# --- lookups ----------------------------------------------------------------------------------


def test_an_unsupported_filter_is_400_naming_it_never_an_unfiltered_list(api, store, org):
    CustomerFactory(organization=org, registered_store=store, email="a@example.com")

    response = api.get(f"{base(store)}/customers", {"email": "b@example.com"})

    assert response.status_code == 400
    assert response.json()["errors"] == {"email": ["is not a parameter of this endpoint"]}


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("customers", {"source": "square"}, "external_id"),
        ("customers", {"external_id": "C-1"}, "source"),
        ("customers", {"sort": "name"}, "sort"),
        ("cards", {"scope": "archived"}, "scope"),
        ("rewards", {"position": "1"}, "position"),
    ],
)
def test_unknown_or_incomplete_parameters_are_400_in_leals_shape(api, store, path, query, named):
    response = api.get(f"{base(store)}/{path}", query)

    assert response.status_code == 400
    assert response.json()["error"]
    assert list(response.json()["errors"]) == [named]


def test_the_lookup_by_source_and_external_id_finds_the_identifier(api, store, org):
    customer = CustomerFactory(organization=org, registered_store=store)
    customer.source_accounts.create(source="INSTORE").identifiers.create(
        organization=org, customer=customer, source="INSTORE", type="externalId", value="C-1"
    )
    CustomerFactory(organization=org, registered_store=store)

    found = api.get(f"{base(store)}/customers", {"source": "instore", "external_id": "C-1"})
    missed = api.get(f"{base(store)}/customers", {"source": "square", "external_id": "C-1"})

    assert [c["id"] for c in found.json()["customers"]] == [customer.pk]
    assert found.json()["customers"][0]["external_references"] == [
        {"source": "INSTORE", "external_id": "C-1", "metadata": {}}
    ]
    assert missed.json()["customers"] == []


# --- uniqueness -------------------------------------------------------------------------------


def test_an_email_of_another_stores_customer_is_taken_as_leal_says_it(api, store, other_store):
    CustomerFactory(
        organization=store.organization, registered_store=other_store, email="ana@example.com"
    )

    response = api.post(
        f"{base(store)}/customers",
        {"customer": {"first_name": "Ana", "email": "ana@example.com"}},
        format="json",
    )

    assert response.status_code == 422
    assert response.json() == {
        "error": "Validation failed",
        "errors": {"email": ["has already been taken"]},
    }


# --- metadata and external references ---------------------------------------------------------


def test_metadata_is_kept_as_custom_fields_and_merged_on_update(api, store):
    created = api.post(
        f"{base(store)}/customers",
        {"customer": {"first_name": "Ana", "email": "a@example.com", "metadata": {"tier": "gold"}}},
        format="json",
    ).json()
    updated = api.patch(
        f"{base(store)}/customers/{created['id']}",
        {"customer": {"metadata": {"vip": True}}},
        format="json",
    )

    assert created["metadata"] == {"tier": "gold"}
    assert updated.json()["metadata"] == {"tier": "gold", "vip": True}
    assert Customer.objects.get().custom_fields == {"tier": "gold", "vip": True}


@pytest.mark.parametrize(
    ("customer", "field"),
    [
        (
            {"external_references": [{"source": "square", "external_id": "C-1"}]},
            "external_references",
        ),
        ({"metadata": ["not", "a", "hash"]}, "metadata"),
    ],
)
def test_what_cannot_be_kept_is_refused_naming_it(api, store, customer, field):
    body = {"customer": {"first_name": "Ana", "email": "a@example.com", **customer}}

    response = api.post(f"{base(store)}/customers", body, format="json")

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert not Customer.objects.exists()


# --- one organization, many accounts ----------------------------------------------------------


def test_a_customer_of_the_organization_is_reached_under_every_account(
    api, store, other_store, org, card
):
    native = CustomerFactory(organization=org, registered_store=None, first_name="Noor")
    elsewhere = CustomerFactory(organization=org, registered_store=other_store)
    held = CustomerCardFactory(customer=native, stamp_card=card)
    customer_url = f"{base(store)}/customers/{native.pk}"

    assert api.get(customer_url).status_code == 200
    assert api.get(f"{base(store)}/customers/{elsewhere.pk}").status_code == 200
    assert api.get(f"{customer_url}/customer_cards").json()[0]["id"] == held.pk
    assert (
        api.patch(customer_url, {"customer": {"last_name": "Q"}}, format="json").status_code == 200
    )
    stamped = api.post(f"{customer_url}/customer_cards/{held.pk}/stamp", {}, format="json")
    assert stamped.status_code == 200
    assert StampTransaction.objects.filter(card=held).count() == 1
    native.refresh_from_db()
    assert (native.last_name, native.registered_store) == ("Q", None)


def test_a_list_under_an_account_shows_every_customer_of_the_organization(
    api, store, other_store, org
):
    mine = CustomerFactory(organization=org, registered_store=store)
    theirs = CustomerFactory(organization=org, registered_store=other_store)
    native = CustomerFactory(organization=org, registered_store=None)

    listed = api.get(f"{base(store)}/customers").json()

    assert {c["id"] for c in listed["customers"]} == {mine.pk, theirs.pk, native.pk}
    assert {c["account_id"] for c in listed["customers"]} == {store.pk}


def test_a_customer_created_under_an_account_is_registered_at_its_store(api, other_store):
    response = api.post(
        f"{base(other_store)}/customers",
        {"customer": {"first_name": "Ana", "email": "a@example.com"}},
        format="json",
    )

    assert response.status_code == 201
    assert Customer.objects.get().registered_store == other_store
