import pytest
from django.core import mail
from rest_framework.test import APIClient

from crm.services import api_key_create
from customers.choices import CustomerStatus
from customers.models import Customer
from loyalty.links import apple_wallet_url, google_wallet_url
from loyalty.models import CardLinkDelivery, CustomerCard, StampTransaction
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory, StatusLabelFactory
from tests.loyalty.factories import CustomerCardFactory, RewardFactory, StampCardFactory


@pytest.fixture
def leal(api):
    return api  # Authorization: Bearer <key>


def base(store) -> str:
    return f"/compat/leal/api/v1/accounts/{store.pk}"


def customer_at(store, **fields) -> Customer:
    return CustomerFactory(organization=store.organization, registered_store=store, **fields)


# --- create ---------------------------------------------------------------------------------


def test_create_with_a_card_gives_welcome_stamps_and_wallet_urls(leal, store, card):
    body = {
        "customer": {
            "first_name": "Ana",
            "last_name": "Ruiz",
            "email": "Ana@Example.com",
            "phone": "8795779625",
            "birthday": "1990-04-01",
        },
        "card_id": card.pk,
    }

    response = leal.post(f"{base(store)}/customers", body, format="json")

    assert response.status_code == 201, response.json()
    reply = response.json()
    customer = Customer.objects.get()
    assert (reply["id"], reply["account_id"]) == (customer.pk, store.pk)
    assert (reply["email"], reply["phone"], reply["birthday"]) == (
        "ana@example.com",
        "+918795779625",
        "1990-04-01",
    )
    assert customer.registered_store == store
    [customer_card] = reply["customer_cards"]
    issued = CustomerCard.objects.get()
    assert customer_card["stamps_count"] == 2
    assert customer_card["stamps_remaining"] == 6  # the dearest reward costs 8
    assert customer_card["progress_percentage"] == 25
    assert customer_card["apple_wallet_url"] == apple_wallet_url(issued)
    assert customer_card["google_wallet_url"] == google_wallet_url(issued)
    assert reply["stamp_count"] == 2
    assert mail.outbox == []  # links are sent only when asked


def test_create_from_form_fields_and_send_the_card_links(
    leal, store, card, django_capture_on_commit_callbacks
):
    body = {
        "customer[first_name]": "Luis",
        "customer[email]": "luis@example.com",
        "card_id": str(card.pk),
        "send_card_links": "1",
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = leal.post(f"{base(store)}/customers", body)  # multipart form

    assert response.status_code == 201, response.json()
    assert response.json()["first_name"] == "Luis"
    assert [m.to for m in mail.outbox] == [["luis@example.com"]]
    assert CardLinkDelivery.objects.get().status == "sent"


@pytest.mark.parametrize(
    ("customer", "field"),
    [
        ({"email": "x@example.com"}, "first_name"),
        ({"first_name": "Nobody"}, "email"),
        ({"first_name": "A", "email": "not-an-email"}, "email"),
        ({"first_name": "A", "phone": "12"}, "phone"),
        ({"first_name": "A", "phone": "8795779625", "birthday": "1.4.90"}, "birthday"),
    ],
)
def test_create_validation_is_422_naming_the_field(leal, store, customer, field):
    response = leal.post(f"{base(store)}/customers", {"customer": customer}, format="json")

    assert response.status_code == 422
    assert response.json()["error"] == "Validation failed"
    assert list(response.json()["errors"]) == [field]
    assert not Customer.objects.exists()


def test_email_and_phone_stay_unique(leal, store):
    customer_at(store, email="taken@example.com", phone="+918795779625")

    by_email = leal.post(
        f"{base(store)}/customers",
        {"customer": {"first_name": "B", "email": "TAKEN@example.com"}},
        format="json",
    )
    by_phone = leal.post(
        f"{base(store)}/customers",
        {"customer": {"first_name": "B", "phone": "87957 79625"}},
        format="json",
    )

    assert (by_email.status_code, list(by_email.json()["errors"])) == (422, ["email"])
    assert (by_phone.status_code, list(by_phone.json()["errors"])) == (422, ["phone"])
    assert Customer.objects.count() == 1


def test_a_card_of_another_store_is_refused(leal, store, org):
    elsewhere = StampCardFactory(organization=org, store=StoreFactory(organization=org))

    response = leal.post(
        f"{base(store)}/customers",
        {"customer": {"first_name": "C", "email": "c@example.com"}, "card_id": elsewhere.pk},
        format="json",
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["card_id"]
    assert not Customer.objects.exists()


# --- read and update --------------------------------------------------------------------------


def test_list_is_paginated_and_searchable(leal, store, card, django_assert_max_num_queries):
    for i in range(5):
        customer = customer_at(store, first_name=f"Name{i}", email=f"p{i}@example.com")
        CustomerCardFactory(customer=customer, stamp_card=card)
    coded = CustomerCard.objects.first()

    leal.get(f"{base(store)}/customers")  # the key's last use is recorded once a minute
    # key, store, count, page, and the page's cards, their rewards and identifiers
    with django_assert_max_num_queries(7):
        page = leal.get(f"{base(store)}/customers", {"page": 2, "items": 2}).json()
    by_email = leal.get(f"{base(store)}/customers", {"search": "p3@exa"}).json()
    by_code = leal.get(f"{base(store)}/customers", {"search": coded.code.lower()}).json()

    assert page["pagination"] == {"count": 5, "items": 2, "page": 2, "pages": 3}
    assert len(page["customers"]) == 2
    assert "available_rewards" not in page["customers"][0]["customer_cards"][0]
    assert [c["email"] for c in by_email["customers"]] == ["p3@example.com"]
    assert [c["id"] for c in by_code["customers"]] == [coded.customer_id]


def test_detail_shows_every_card_with_progress(leal, store, card, org):
    customer = customer_at(store)
    CustomerCardFactory(customer=customer, stamp_card=card, stamps=6)
    CustomerCardFactory(customer=customer, stamp_card=StampCardFactory(organization=org))

    reply = leal.get(f"{base(store)}/customers/{customer.pk}").json()

    first, second = reply["customer_cards"]
    assert [r["name"] for r in first["available_rewards"]] == ["Free coffee"]
    assert (first["stamps_count"], first["stamps_remaining"]) == (6, 2)
    assert second["available_rewards"] == []
    assert all(c["apple_wallet_url"] and c["google_wallet_url"] for c in reply["customer_cards"])


def test_update_changes_only_what_is_sent(leal, store):
    customer = customer_at(store, first_name="Old", last_name="Name", email="o@example.com")

    response = leal.patch(f"{base(store)}/customers/{customer.pk}", {"customer[first_name]": "New"})

    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.email) == (
        "New",
        "Name",
        "o@example.com",
    )


def test_update_keeps_email_and_phone_unique_and_required(leal, store):
    customer_at(store, email="taken@example.com")
    customer = customer_at(store, email="mine@example.com", phone=None)
    url = f"{base(store)}/customers/{customer.pk}"

    taken = leal.put(url, {"customer": {"email": "taken@example.com"}}, format="json")
    blanked = leal.put(url, {"customer": {"email": ""}}, format="json")

    assert (taken.status_code, list(taken.json()["errors"])) == (422, ["email"])
    assert (blanked.status_code, list(blanked.json()["errors"])) == (422, ["email"])
    customer.refresh_from_db()
    assert customer.email == "mine@example.com"


# --- stamps and rewards -----------------------------------------------------------------------


@pytest.fixture
def holder(store, card):
    customer = customer_at(store)
    return CustomerCardFactory(customer=customer, stamp_card=card, stamps=4)


def card_url(store, holder) -> str:
    return f"{base(store)}/customers/{holder.customer_id}/customer_cards/{holder.pk}"


def test_stamping_answers_the_cards_new_state(leal, store, holder):
    response = leal.post(
        f"{card_url(store, holder)}/stamp", {"stamps": 2, "skip_notifications": True}, format="json"
    )

    assert response.status_code == 200, response.json()
    state = response.json()  # Leal's reference: "Returns: the updated customer card"
    assert state["stamps_count"] == 6
    assert [r["name"] for r in state["available_rewards"]] == ["Free coffee"]
    holder.refresh_from_db()
    assert holder.stamps == 6


def test_a_retried_stamp_with_its_idempotency_key_is_applied_once(leal, store, holder):
    def stamp():
        return leal.post(
            f"{card_url(store, holder)}/stamp",
            {"stamps": 2},
            format="json",
            HTTP_IDEMPOTENCY_KEY="s1",
        )

    first, retry = stamp(), stamp()

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert StampTransaction.objects.filter(card=holder).count() == 1
    holder.refresh_from_db()
    assert holder.stamps == 6


@pytest.mark.parametrize("stamps", [0, -1, "many", 1000])
def test_invalid_stamps_are_422(leal, store, holder, stamps):
    response = leal.post(f"{card_url(store, holder)}/stamp", {"stamps": stamps}, format="json")

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["stamps"]
    holder.refresh_from_db()
    assert holder.stamps == 4


def test_redeeming_deducts_the_rewards_cost(leal, store, holder, card):
    coffee = card.rewards.get(name="Free coffee")
    holder.stamps = 7
    holder.save()

    response = leal.post(f"{card_url(store, holder)}/redeem", {"reward_id": coffee.pk})

    assert response.status_code == 200, response.json()
    redemption = response.json()["redemption"]
    assert (redemption["reward_name"], redemption["stamps_spent"]) == ("Free coffee", 5)
    assert redemption["stamps_remaining"] == 2
    assert response.json()["customer_card"]["stamps_count"] == 2
    assert StampTransaction.objects.get(reward=coffee).stamps == -5


def test_redeeming_without_enough_stamps_or_an_inactive_reward_is_422(leal, store, holder, card):
    cake = card.rewards.get(name="Free cake")
    coffee = card.rewards.get(name="Free coffee")
    coffee.active = False
    coffee.save()

    short = leal.post(f"{card_url(store, holder)}/redeem", {"reward_id": cake.pk})
    inactive = leal.post(f"{card_url(store, holder)}/redeem", {"reward_id": coffee.pk})

    assert (short.status_code, list(short.json()["errors"])) == (422, ["reward_id"])
    assert (inactive.status_code, list(inactive.json()["errors"])) == (422, ["reward_id"])
    holder.refresh_from_db()
    assert holder.stamps == 4


def test_unknown_card_or_reward_is_404(leal, store, holder, other_org):
    foreign_reward = RewardFactory(stamp_card=StampCardFactory(organization=other_org))

    assert (
        leal.get(f"{base(store)}/customers/{holder.customer_id}/customer_cards/0").status_code
        == 404
    )
    response = leal.post(f"{card_url(store, holder)}/redeem", {"reward_id": foreign_reward.pk})
    assert response.status_code == 404


def test_customer_cards_list_and_detail(leal, store, holder):
    listed = leal.get(f"{base(store)}/customers/{holder.customer_id}/customer_cards").json()
    detail = leal.get(card_url(store, holder)).json()

    assert [c["id"] for c in listed] == [holder.pk]
    assert "customer_id" not in listed[0]
    assert (detail["customer_id"], detail["card_id"], detail["uuid"]) == (
        holder.customer_id,
        holder.stamp_card_id,
        holder.link_token,
    )


def test_cards_and_rewards_of_the_store(leal, store, card, holder, org):
    StampCardFactory(organization=org, store=StoreFactory(organization=org))  # not this store's

    cards = leal.get(f"{base(store)}/cards").json()
    rewards = leal.get(f"{base(store)}/rewards", {"card_id": card.pk, "active": "true"}).json()

    assert [(c["id"], c["stamps_required"], c["rewards_count"]) for c in cards] == [(card.pk, 8, 2)]
    assert cards[0]["customer_cards_count"] == 1
    assert [(r["name"], r["position"]) for r in rewards] == [("Free coffee", 1), ("Free cake", 2)]


# --- authentication and tenancy ---------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Token abc"])
def test_missing_or_wrong_token_is_401(store, authorization):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.get(f"{base(store)}/customers")

    assert response.status_code == 401
    assert "error" in response.json()


def test_another_organizations_store_and_customers_are_404(leal, store, other_org):
    foreign_store = StoreFactory(organization=other_org)
    stranger = customer_at(foreign_store)
    other_key = api_key_create(organization=other_org, name="Other")[1]

    assert leal.get(f"{base(foreign_store)}/customers").status_code == 404
    assert leal.get(f"{base(store)}/customers/{stranger.pk}").status_code == 404
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key}")
    assert client.get(f"{base(store)}/customers").json() == {"error": "Store not found"}


def test_a_customer_of_another_store_is_reached_by_id(leal, store, org):
    elsewhere = customer_at(StoreFactory(organization=org))

    assert leal.get(f"{base(store)}/customers/{elsewhere.pk}").status_code == 200


def test_a_blocked_customer_neither_redeems_nor_is_stamped(leal, store, card):
    label = StatusLabelFactory(
        organization=store.organization,
        name="fraud",
        status=CustomerStatus.FRAUD_CONFIRMED,
        may_earn=False,
        may_spend=False,
    )
    holder = CustomerCardFactory(
        customer=customer_at(store, status=label.status, status_label=label),
        stamp_card=card,
        stamps=7,
    )
    coffee = card.rewards.get(name="Free coffee")

    redeemed = leal.post(f"{card_url(store, holder)}/redeem", {"reward_id": coffee.pk})
    stamped = leal.post(f"{card_url(store, holder)}/stamp", {"stamps": 1}, format="json")

    assert redeemed.status_code == 422
    assert "may not spend" in redeemed.json()["errors"]["customer"][0]
    assert stamped.status_code == 422
    assert "may not earn" in stamped.json()["errors"]["customer"][0]
    holder.refresh_from_db()
    assert holder.stamps == 7
    assert not StampTransaction.objects.filter(card=holder).exists()
