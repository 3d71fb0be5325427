"""A batch of purchases: each recorded or refused alone, as one purchase would be, and set-wise."""

import datetime as dt

import pytest
from django.db import connection

from crm.actors import Actor
from loyalty.models import Enrollment, PointsLot, PointsTransaction
from loyalty.services.earning_rules import earning_rule_create
from loyalty.services.purchase_input import PurchaseItem
from loyalty.services.purchases import purchases_record, transaction_record
from loyalty.tiers import TierChange
from loyalty.transactions import Transaction, TransactionLine
from tests.crm.factories import OrganizationFactory, StoreFactory
from tests.customers.factories import CustomerFactory, IdentifierFactory, StatusLabelFactory
from tests.customers.test_closed_customers import erased, merged
from tests.loyalty.factories import EnrollmentFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db
TILL = Actor("api_key", "1 till")
URL = "/api/v1/transactions/batch/"
LINES = [{"sku": "RUN-1", "category": "shoes", "quantity": 1, "unit_price": "100.00"}]
YEN_CENTS = [{"sku": "A", "quantity": 1, "unit_price": "1.50"}]


def make_rule(program, kind, name, priority=100, **parameters):
    return earning_rule_create(
        program=program,
        name=name,
        kind=kind,
        parameters=parameters,
        priority=priority,
        active_from=None,
        active_until=None,
    )


@pytest.fixture
def program(org):
    program = ProgramFactory(organization=org, name="Club")
    make_rule(program, "base_rate", "Base", points=1, per="10", rounding="down")
    return program


def member(program, **customer):
    return EnrollmentFactory(
        customer__organization=program.organization, program=program, **customer
    )


def body(customer, external_id, **overrides):
    return {
        "customer": customer.public_id,
        "external_id": external_id,
        "occurred_at": "2026-06-15T12:00:00Z",
        "currency": "EUR",
        "lines": LINES,
        **overrides,
    }


def post(api, items, **headers):
    return api.post(URL, {"transactions": items}, format="json", **headers)


def test_each_purchase_is_recorded_or_refused_alone_in_request_order(api, org, program):
    ann, bo = member(program).customer, member(program).customer
    IdentifierFactory(source_account__customer=bo, type="cardnumber", value="C-7")
    StoreFactory(organization=org, code="till-1")
    by_card = body(bo, "T-2", store="till-1")
    del by_card["customer"]
    stranger = CustomerFactory(organization=OrganizationFactory())
    StoreFactory(organization=stranger.organization, code="their-till")

    response = post(
        api,
        [
            body(ann, "T-1"),
            {**by_card, "identifier": {"type": "cardnumber", "value": "C-7"}},
            {**body(ann, "T-3"), "customer": "cust_nobody"},
            body(ann, "T-4", store="nowhere"),
            body(ann, "T-5", currency="eur"),
            body(ann, "T-6", lines=[{"sku": "A", "quantity": 0, "unit_price": "1"}]),
            body(ann, "T-7", currency="JPY", lines=YEN_CENTS),
            body(stranger, "T-8"),
            body(ann, "T-9", store="their-till"),
            {**by_card, "external_id": "T-10", "identifier": {"type": "cardnumber", "value": "?"}},
            {"external_id": "T-11"},
        ],
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["index"], r["status"], r["http_status"]) for r in results] == [
        (0, "created", 201),
        (1, "created", 201),
        (2, "failed", 404),
        (3, "failed", 400),
        (4, "failed", 400),
        (5, "failed", 400),
        (6, "failed", 400),
        (7, "failed", 404),
        (8, "failed", 400),
        (9, "failed", 404),
        (10, "failed", 400),
    ]
    fields = [[(e["index"], e["field"], e["code"]) for e in r["errors"]] for r in results[2:10]]
    assert fields == [
        [(2, "customer", "not_found")],
        [(3, "store", "store_unknown")],
        [(4, "currency", "invalid")],
        [(5, "lines[0].quantity", "min_value")],
        [(6, "lines[0].unit_price", "invalid")],
        [(7, "customer", "not_found")],
        [(8, "store", "store_unknown")],
        [(9, "identifier", "not_found")],
    ]
    assert {e["field"] for e in results[10]["errors"]} >= {"occurred_at", "currency", "lines"}
    first = results[0]["result"]
    assert (first["points"], first["transaction"]["external_id"]) == (10, "T-1")
    assert results[1]["result"]["transaction"]["customer"] == bo.public_id
    assert results[1]["result"]["transaction"]["store"] == "till-1"
    assert all(r["result"] is None for r in results[2:])
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == ["T-1", "T-2"]


def test_an_item_has_the_reply_recording_it_alone_has(api, org, program):
    TierFactory(program=program, number=1, points_threshold=0)
    TierFactory(program=program, number=2, name="Gold", points_threshold=10)
    ann, bo = member(program).customer, member(program).customer

    alone = api.post("/api/v1/transactions/", body(ann, "T-1"), format="json").json()
    batched = post(api, [body(bo, "T-2")]).json()["results"][0]["result"]

    def without_ids(reply):
        own = ("id", "external_id", "customer", "created_at")
        transaction = {k: v for k, v in reply["transaction"].items() if k not in own}
        whose = ("customer_id", "reason")  # the points' side effect names the buyer and purchase
        side_effects = [
            {k: v for k, v in effect.items() if k not in whose} for effect in reply["side_effects"]
        ]
        return {**reply, "transaction": transaction, "side_effects": side_effects}

    assert without_ids(batched) == without_ids(alone)
    assert batched["tier_changes"][0]["tier_name"] == "Gold"


def test_more_than_100_purchases_are_refused_naming_the_field(api, program):
    customer = member(program).customer
    items = [body(customer, f"T-{i}") for i in range(101)]

    response = post(api, items)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "transactions"
    assert not Transaction.objects.exists()
    assert [r["status"] for r in post(api, items[:100]).json()["results"]] == ["created"] * 100


def test_a_purchase_recorded_before_is_already_recorded_with_its_first_reply(api, program):
    customer = member(program).customer
    first = api.post("/api/v1/transactions/", body(customer, "T-1"), format="json").json()

    response = post(
        api, [body(customer, "T-1", lines=[{"sku": "X", "quantity": 9, "unit_price": "9"}])]
    )

    [result] = response.json()["results"]
    assert (result["status"], result["http_status"]) == ("already_recorded", 200)
    assert result["result"] == first
    assert PointsTransaction.objects.count() == 1


def test_the_same_external_id_twice_in_a_batch_is_recorded_once(api, program):
    customer = member(program).customer

    results = post(
        api,
        [
            body(customer, "T-1", currency="JPY", lines=YEN_CENTS),  # refused: yen have no cents
            body(customer, "T-1"),
            body(customer, "T-1", lines=[{"sku": "X", "quantity": 9, "unit_price": "9"}]),
        ],
    ).json()["results"]

    assert [(r["status"], r["http_status"]) for r in results] == [
        ("failed", 400),
        ("created", 201),
        ("already_recorded", 200),
    ]
    assert results[2]["result"] == results[1]["result"]
    assert Transaction.objects.get().total_amount == 100
    assert PointsTransaction.objects.get().points == 10


def test_a_batch_sent_again_with_its_idempotency_key_is_replayed(api, program):
    customer = member(program).customer
    items = [body(customer, "T-1"), body(customer, "T-2", currency="eur")]

    first = post(api, items, HTTP_IDEMPOTENCY_KEY="batch-1")
    again = post(api, items, HTTP_IDEMPOTENCY_KEY="batch-1")
    other = post(api, items[:1], HTTP_IDEMPOTENCY_KEY="batch-1")

    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422
    without_key = post(api, items).json()["results"]
    assert [r["status"] for r in without_key] == ["already_recorded", "failed"]
    assert Transaction.objects.count() == 1


def test_a_customer_who_may_not_earn_is_recorded_earning_nothing(api, org, program):
    label = StatusLabelFactory(organization=org, name="Fraud", status="fraud_confirmed")
    label.may_earn = False
    label.save()
    blocked = member(program, customer__status_label=label).customer

    [result] = post(api, [body(blocked, "T-1")]).json()["results"]

    assert result["status"] == "created"
    assert result["result"]["points"] == 0
    assert result["result"]["warnings"][0]["code"] == "earning_blocked"
    assert not PointsTransaction.objects.exists()


def test_a_batch_of_100_runs_a_fixed_number_of_queries(
    api, org, program, django_assert_max_num_queries
):
    """100 purchases of 5 lines, 4 earning rules, a tier reached by each, half the customers
    found by a card, a third in a second programme: the same queries as for one purchase."""
    make_rule(program, "category_multiplier", "Shoes", category="shoes", multiplier="2")
    make_rule(program, "first_purchase_bonus", "Welcome", points=5)
    make_rule(program, "daily_cap", "Cap", points=1000)
    TierFactory(program=program, number=1, points_threshold=0)
    TierFactory(program=program, number=2, points_threshold=15)
    second = ProgramFactory(organization=org)
    make_rule(second, "base_rate", "Base", points=1, per="1", rounding="down")
    StoreFactory(organization=org, code="till-1")
    lines = [
        {
            "sku": f"S-{i}",
            "category": "shoes" if i % 2 else "socks",
            "quantity": 1,
            "unit_price": "20.00",
        }
        for i in range(5)
    ]
    items = []
    for index in range(100):
        enrollment = member(program)
        if index % 3 == 0:
            EnrollmentFactory(customer=enrollment.customer, program=second)
        item = body(enrollment.customer, f"T-{index}", store="till-1", lines=lines)
        if index % 2:
            IdentifierFactory(
                source_account__customer=enrollment.customer, type="cardnumber", value=f"C-{index}"
            )
            del item["customer"]
            item["identifier"] = {"type": "cardnumber", "value": f"C-{index}"}
        items.append(item)
    api.get("/api/v1/transactions/")  # the first call of a minute also records the key's use

    # SQLite cuts the larger inserts into several statements, by its limit on parameters.
    with django_assert_max_num_queries(24 if connection.vendor == "postgresql" else 38):
        response = post(api, items)

    assert [r["status"] for r in response.json()["results"]] == ["created"] * 100
    assert TransactionLine.objects.count() == 500
    assert PointsLot.objects.count() == PointsTransaction.objects.count() == 100 * 3 + 34
    assert TierChange.objects.count() == 100

    # Asked by external id, then each purchase read back with its returns.
    with django_assert_max_num_queries(11):
        again = post(api, items)
    assert [r["status"] for r in again.json()["results"]] == ["already_recorded"] * 100


# --- one after another, or together -------------------------------------------------------------


def world(org):
    """A programme whose rules depend on what came before: a first purchase, a daily cap, a
    tier reached; and three customers, one in a second programme, one found by a card."""
    club = ProgramFactory(organization=org, name="Club")
    make_rule(club, "base_rate", "Base", points=1, per="1", rounding="down")
    make_rule(club, "first_purchase_bonus", "Welcome", points=25)
    TierFactory(program=club, number=1, name="Green", points_threshold=0)
    TierFactory(program=club, number=2, name="Gold", points_threshold=150)
    TierFactory(program=club, number=3, name="Black", points_threshold=350)
    make_rule(club, "tier_multiplier", "Gold", tier=2, multiplier="2")
    make_rule(club, "birthday_bonus", "Birthday", points=7)
    make_rule(club, "daily_cap", "Cap", points=180)
    coffee = ProgramFactory(organization=org, name="Coffee")
    make_rule(coffee, "base_rate", "Beans", points=2, per="10", rounding="up")
    customers = [
        EnrollmentFactory(
            customer__organization=org, customer__birthday=dt.date(1990, 6, 16), program=club
        ).customer
        for _ in range(3)
    ]
    EnrollmentFactory(customer=customers[1], program=coffee)
    return customers


def purchases(customers):
    noon = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
    plan = [(0, 0, "90.00"), (1, 0, "120.00"), (0, 0, "80.00"), (0, 1, "300.00"), (2, 0, "5.00")]
    plan += [(1, 1, "60.00"), (0, 1, "10.00"), (2, 2, "500.00"), (1, 1, "33.30")]
    return [
        {
            "customer": customers[who],
            "external_id": f"P-{index}",
            "occurred_at": noon + dt.timedelta(days=day),
            "currency": "EUR",
            "lines": [{"sku": "A", "quantity": 1, "unit_price": amount}],
            "store_code": None,
            "channel": "INSTORE",
        }
        for index, (who, day, amount) in enumerate(plan)
    ]


def ledger_of(customers):
    """What the purchases did to each customer, told without ids."""
    told = []
    for customer in customers:
        for enrollment in Enrollment.objects.filter(customer=customer).order_by("program__name"):
            rows = PointsTransaction.objects.filter(enrollment=enrollment).order_by("pk")
            told.append(
                (
                    enrollment.program.name,
                    enrollment.points_balance,
                    enrollment.points_earned,
                    enrollment.tier.name if enrollment.tier else None,
                    [(r.purchase.external_id, r.points, r.reason) for r in rows],
                    sorted(
                        (c.purchase.external_id, c.to_tier.name)
                        for c in TierChange.objects.filter(enrollment=enrollment)
                    ),
                    PointsLot.objects.filter(enrollment=enrollment).count(),
                )
            )
    return told


def test_a_batch_earns_exactly_what_the_purchases_earn_one_after_another(org, other_org):
    alone, together = world(org), world(other_org)
    for purchase in purchases(alone):
        transaction_record(organization=org, actor=TILL, **purchase)

    outcomes = purchases_record(
        organization=other_org,
        items=[
            PurchaseItem(**{k: v for k, v in purchase.items() if k != "store_code"})
            for purchase in purchases(together)
        ],
        actor=TILL,
    )

    assert [outcome.error for outcome in outcomes] == [None] * 9
    assert ledger_of(together) == ledger_of(alone)
    assert ledger_of(alone)[0][3] == "Black"


def test_customers_are_found_as_one_purchase_finds_them(api, org, program):
    survivor, tombstone = merged(org)
    EnrollmentFactory(customer=survivor, program=program)
    gone = erased(org)
    IdentifierFactory(source_account__customer=member(program).customer, type="cuid", value="S")
    IdentifierFactory(source_account__customer=member(program).customer, type="cuid", value="S")
    shared = body(survivor, "T-3")
    del shared["customer"]

    results = post(
        api,
        [
            body(tombstone, "T-1"),
            body(gone, "T-2"),
            {**shared, "identifier": {"type": "cuid", "value": "S"}},
            {**shared, "external_id": "T-4", "identifier": {"type": "fax", "value": "S"}},
        ],
    ).json()["results"]

    assert results[0]["result"]["transaction"]["customer"] == survivor.public_id
    assert [
        (r["http_status"], [(e["field"], e["code"]) for e in r["errors"]]) for r in results[1:]
    ] == [
        (409, [("customer", "customer_closed")]),
        (409, [("identifier", "identifiers_conflict")]),
        (400, [("identifier.type", "invalid_choice")]),
    ]
