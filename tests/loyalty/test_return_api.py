"""The return endpoint, a purchase read with its returns, and balances shown active and pending
apart."""

import datetime as dt

import pytest
from django.utils import timezone

from crm.actors import Actor
from loyalty.models import PointsTransaction
from loyalty.returns import Return
from loyalty.services.purchases import transaction_record
from tests.crm.factories import OrganizationFactory
from tests.loyalty.factories import EnrollmentFactory, TierFactory
from tests.loyalty.test_returns import make_rule

pytestmark = pytest.mark.django_db
TILL = Actor("api_key", "1 till")
LINES = [
    {"sku": "RUN-1", "category": "shoes", "quantity": 2, "unit_price": "50.00"},
    {"sku": "SOCK", "category": "socks", "quantity": 1, "unit_price": "20.00"},
]


@pytest.fixture
def enrollment(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    make_rule(enrollment.program, "base_rate", name="Base", points=1, per="1", rounding="down")
    return enrollment


def buy(customer, external_id="T-1", days_ago=1):
    return transaction_record(
        organization=customer.organization,
        customer=customer,
        store_code=None,
        external_id=external_id,
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
        currency="EUR",
        lines=LINES,
        channel="INSTORE",
        actor=TILL,
    ).transaction


def url(purchase) -> str:
    return f"/api/v1/transactions/{purchase.pk}/returns/"


def body(external_id="R-1", **what):
    return {"external_id": external_id, "occurred_at": "2026-12-01T10:00:00Z", **what}


def test_a_return_answers_what_each_programme_took_back(api, org, enrollment):
    TierFactory(program=enrollment.program, number=1, name="Silver")
    TierFactory(program=enrollment.program, number=2, name="Gold", points_threshold=100)
    purchase = buy(enrollment.customer)

    response = api.post(url(purchase), body(lines=[{"sku": "RUN-1", "quantity": 1}]), format="json")

    assert response.status_code == 201, response.content
    reply = response.json()
    assert reply["return"]["transaction_id"] == purchase.pk
    assert reply["return"]["amount"] == "50"
    assert reply["return"]["lines"] == [{"sku": "RUN-1", "quantity": 1, "amount": "50"}]
    [program] = reply["programs"]
    assert program == {
        "program_id": enrollment.program_id,
        "points": 50,
        "cancelled": 0,
        "clawed_back": 50,
        "shortfall": 0,
        "rules": [
            {
                "rule_id": program["rules"][0]["rule_id"],
                "award_id": program["rules"][0]["award_id"],
                "points": 50,
                "taken": 50,
                "kind": "clawback",
                "shortfall": 0,
            }
        ],
    }
    assert reply["tier_changes"] == [
        {"program_id": enrollment.program_id, "from_tier": 2, "to_tier": 1, "tier_name": "Silver"}
    ]
    assert reply["side_effects"] == [
        {
            "type": "tier",
            "program_id": enrollment.program_id,
            "from_tier": 2,
            "to_tier": 1,
            "tier_name": "Silver",
        }
    ]


def test_the_same_return_again_answers_200_with_the_first_reply(api, org, enrollment):
    purchase = buy(enrollment.customer)
    first = api.post(url(purchase), body(amount="60.00"), format="json")

    again = api.post(url(purchase), body(amount="60.00"), format="json")
    keyed = api.post(
        url(purchase), body("R-2", amount="10.00"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    replayed = api.post(
        url(purchase), body("R-2", amount="10.00"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert (keyed.status_code, replayed.status_code) == (201, 201)
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == keyed.json()
    assert Return.objects.count() == 2
    assert PointsTransaction.objects.filter(kind="clawback").count() == 2


@pytest.mark.parametrize(
    ("what", "status", "field"),
    [
        ({"lines": [{"sku": "RUN-1", "quantity": 3}]}, 422, "lines[0].quantity"),
        ({"lines": [{"sku": "HAT", "quantity": 1}]}, 400, "lines[0].sku"),
        ({"lines": [{"sku": "RUN-1", "quantity": 0}]}, 400, "lines[0].quantity"),
        ({"lines": [{"sku": "RUN-1"}]}, 400, "lines[0].quantity"),
        ({"lines": []}, 400, "lines"),
        ({"lines": [{"sku": "RUN-1", "quantity": 1, "colour": "red"}]}, 400, "lines[0].colour"),
        ({"amount": "120.01"}, 422, "amount"),
        ({"amount": "0"}, 400, "amount"),
        ({"amount": "1.001"}, 400, "amount"),
        ({"amount": 12.5}, 400, "amount"),
        ({"amount": "1.00", "lines": [{"sku": "RUN-1", "quantity": 1}]}, 400, "lines"),
        ({}, 400, "lines"),
        ({"external_id": ""}, 400, "external_id"),
        ({"occurred_at": "yesterday"}, 400, "occurred_at"),
    ],
)
def test_every_refusal_is_a_4xx_naming_its_field(api, org, enrollment, what, status, field):
    purchase = buy(enrollment.customer)

    response = api.post(url(purchase), {**body(), **what}, format="json")

    assert response.status_code == status, response.content
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert not Return.objects.exists()


def test_a_return_names_a_purchase_of_the_organization(api, org, enrollment):
    theirs = buy(EnrollmentFactory(customer__organization=OrganizationFactory()).customer)
    mine = buy(enrollment.customer, "T-2")
    api.post(url(mine), body(amount="1.00"), format="json")
    other = buy(enrollment.customer, "T-3")

    missing = api.post("/api/v1/transactions/999999/returns/", body(amount="1.00"), format="json")
    foreign = api.post(url(theirs), body("R-9", amount="1.00"), format="json")
    taken = api.post(url(other), body(amount="1.00"), format="json")

    assert (missing.status_code, foreign.status_code) == (404, 404)
    assert missing.json()["errors"][0]["field"] == "transaction_id"
    assert taken.status_code == 409
    assert taken.json()["errors"][0]["field"] == "external_id"


def test_an_erased_customers_purchase_is_a_conflict(api, org, enrollment):
    purchase = buy(enrollment.customer)
    enrollment.customer.erased_at = timezone.now()
    enrollment.customer.save()

    response = api.post(url(purchase), body(amount="1.00"), format="json")

    assert response.status_code == 409
    assert response.json()["errors"][0] == {
        "field": "customer",
        "code": "customer_closed",
        "message": response.json()["detail"],
    }


def test_a_purchase_is_read_with_its_returns(api, org, enrollment, django_assert_max_num_queries):
    purchase = buy(enrollment.customer)
    api.post(url(purchase), body(lines=[{"sku": "SOCK", "quantity": 1}]), format="json")
    api.post(url(purchase), body("R-2", amount="30.00"), format="json")

    with django_assert_max_num_queries(6):
        reply = api.get(f"/api/v1/transactions/{purchase.pk}/").json()

    assert reply["returned_amount"] == "50"
    assert [(r["external_id"], r["amount"], len(r["lines"])) for r in reply["returns"]] == [
        ("R-1", "20", 1),
        ("R-2", "30", 0),
    ]
    assert api.get("/api/v1/transactions/999999/").status_code == 404


def test_purchases_with_returns_are_listed_in_fixed_queries(
    api, org, enrollment, django_assert_max_num_queries
):
    def listed():
        with django_assert_max_num_queries(6) as captured:
            rows = api.get("/api/v1/transactions/").json()["results"]
        return rows, len(captured.captured_queries)

    purchase = buy(enrollment.customer)
    api.post(url(purchase), body(lines=[{"sku": "SOCK", "quantity": 1}]), format="json")
    listed()  # the first call of a minute also records the key's use
    few, few_queries = listed()
    for index in range(4):
        more = buy(enrollment.customer, f"T-{index + 2}")
        api.post(url(more), body(f"R-{index + 2}", amount="5.00"), format="json")
        sku = {"sku": "RUN-1", "quantity": 1}
        api.post(url(more), body(f"S-{index + 2}", lines=[sku]), format="json")

    many, many_queries = listed()

    assert (len(few), len(many)) == (1, 5)
    assert few_queries == many_queries
    assert sorted(len(row["returns"]) for row in many) == [1, 2, 2, 2, 2]


def test_balances_show_spendable_and_pending_points_apart(api, org, enrollment):
    program = enrollment.program
    program.pending_days, program.clawback_policy = 14, "allow_negative"
    program.save()
    buy(enrollment.customer, "T-0", days_ago=30)
    buy(enrollment.customer)
    customer = f"/api/v1/customers/{enrollment.customer.public_id}/"

    [shown] = api.get(customer).json()["enrollments"]
    awarded = api.post(
        f"{customer}points/",
        {"program_id": program.pk, "action": "award", "points": 5},
        format="json",
    ).json()
    described = api.get(f"/api/v1/programs/{program.pk}/").json()

    assert (shown["points_balance"], shown["points_pending"], shown["points_earned"]) == (
        120,
        120,
        240,
    )
    assert (awarded["balance"], awarded["pending"]) == (125, 120)
    ledger = api.get(f"{customer}points/").json()["results"]
    assert [row["activates_at"] is None for row in ledger] == [True, False, True]
    assert (
        described["pending_days"],
        described["points_valid_days"],
        described["clawback_policy"],
    ) == (14, None, "allow_negative")
