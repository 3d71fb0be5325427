"""The purchase endpoints: record, replay, list, simulate, earning rules."""

import pytest
from django.utils import timezone

from crm.actors import Actor
from loyalty.models import PointsTransaction
from loyalty.services.earning_rules import earning_rule_create
from loyalty.services.points import points_award
from loyalty.services.purchases import transaction_record
from loyalty.transactions import Transaction
from tests.crm.factories import OrganizationFactory, StoreFactory
from tests.customers.factories import CustomerFactory, IdentifierFactory, StatusLabelFactory
from tests.loyalty.factories import EnrollmentFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db
TILL = Actor("api_key", "1 till")
URL = "/api/v1/transactions/"
LINES = [{"sku": "RUN-1", "category": "shoes", "quantity": 1, "unit_price": "1200.00"}]


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
def enrollment(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    make_rule(enrollment.program, "base_rate", "Base", points=1, per="10", rounding="down")
    return enrollment


def body(buyer, external_id="T-1", **overrides):
    return {
        "customer": buyer.public_id,
        "external_id": external_id,
        "occurred_at": "2026-06-15T12:00:00Z",
        "currency": "EUR",
        "lines": LINES,
        **overrides,
    }


def test_a_purchase_is_recorded_with_what_it_earned(api, org, enrollment):
    StoreFactory(organization=org, code="till-1")
    TierFactory(program=enrollment.program, number=1, points_threshold=0)
    TierFactory(program=enrollment.program, number=2, name="Gold", points_threshold=100)

    response = api.post(URL, body(enrollment.customer, store="till-1"), format="json")

    assert response.status_code == 201, response.content
    reply = response.json()
    assert reply["transaction"]["store"] == "till-1"
    assert reply["transaction"]["total_amount"] == "1200"
    assert reply["transaction"]["lines"][0]["category"] == "shoes"
    assert reply["points"] == 120
    [earning] = reply["earnings"]
    assert [(r["points"], r["reason"]) for r in earning["rules"]] == [
        (120, "Base: 1 per 10 on 1200.00")
    ]
    assert reply["tier_changes"] == [
        {"program_id": enrollment.program_id, "from_tier": None, "to_tier": 2, "tier_name": "Gold"}
    ]
    assert (reply["points_active"], reply["points_pending"]) == (120, 0)
    assert reply["side_effects"] == [
        {
            "type": "points",
            "customer_id": enrollment.customer.public_id,
            "program_id": enrollment.program_id,
            "points": 120,
            "reason": "Purchase T-1",
        },
        {
            "type": "tier",
            "program_id": enrollment.program_id,
            "from_tier": None,
            "to_tier": 2,
            "tier_name": "Gold",
        },
    ]


def test_points_within_a_return_window_are_answered_as_pending(api, enrollment):
    enrollment.program.pending_days = 14
    enrollment.program.save(update_fields=["pending_days"])

    recent = timezone.now().isoformat()
    reply = api.post(URL, body(enrollment.customer, occurred_at=recent), format="json").json()

    assert (reply["points"], reply["points_active"], reply["points_pending"]) == (120, 0, 120)
    assert reply["earnings"][0]["points_pending"] == 120


def test_the_same_external_id_again_answers_200_with_the_first_reply(api, org, enrollment):
    first = api.post(URL, body(enrollment.customer), format="json")
    points_award(organization=org, enrollment=enrollment, points=7, actor=TILL)
    again = api.post(URL, body(enrollment.customer), format="json")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert PointsTransaction.objects.filter(purchase__isnull=False).count() == 1


def test_a_customer_is_found_by_identifier(api, org, enrollment):
    IdentifierFactory(source_account__customer=enrollment.customer, value="LOY-9")
    data = body(enrollment.customer)
    del data["customer"]

    response = api.post(
        URL, {**data, "identifier": {"type": "externalId", "value": "LOY-9"}}, format="json"
    )
    unknown = api.post(
        URL,
        {**data, "external_id": "T-2", "identifier": {"type": "externalId", "value": "nobody"}},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["transaction"]["customer"] == enrollment.customer.public_id
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "identifier"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"currency": "JPY", "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.50"}]},
            "lines[0].unit_price",
        ),
        ({"lines": [{"sku": "A", "quantity": 0, "unit_price": "1"}]}, "lines[0].quantity"),
        ({"store": "nowhere"}, "store"),
        ({"customer": "nobody"}, "customer"),
        (
            {"lines": [{"sku": "A", "quantity": 1, "unit_price": "1", "colour": "red"}]},
            "lines[0].colour",
        ),
    ],
)
def test_refusals_name_the_field(api, org, enrollment, overrides, field):
    response = api.post(URL, body(enrollment.customer, **overrides), format="json")

    assert 400 <= response.status_code < 500
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert not Transaction.objects.exists()


def test_another_organizations_customer_is_not_found(api, org):
    stranger = CustomerFactory(organization=OrganizationFactory())
    response = api.post(URL, body(stranger), format="json")
    assert response.status_code == 404


def record(customer, external_id, store_code=None, occurred_at="2026-06-15T12:00:00Z"):
    return transaction_record(
        organization=customer.organization,
        customer=customer,
        store_code=store_code,
        external_id=external_id,
        occurred_at=occurred_at,
        currency="EUR",
        lines=LINES * 2,
        channel="INSTORE",
        actor=TILL,
    )


def test_purchases_are_listed_and_filtered_in_fixed_queries(
    api, org, enrollment, django_assert_max_num_queries
):
    StoreFactory(organization=org, code="till-1")
    other = EnrollmentFactory(customer__organization=org, program=enrollment.program)
    for index in range(5):
        record(enrollment.customer, f"A-{index}", store_code="till-1")
    record(other.customer, "B-1", occurred_at="2026-07-01T00:00:00Z")
    stranger = EnrollmentFactory()
    record(stranger.customer, "A-0")

    with django_assert_max_num_queries(6):  # with their lines and returns
        listed = api.get(URL).json()["results"]
    assert len(listed) == 6
    assert all(len(row["lines"]) == 2 for row in listed)

    def ids(**params):
        return sorted(row["external_id"] for row in api.get(URL, params).json()["results"])

    assert ids(customer=other.customer.public_id) == ["B-1"]
    assert ids(store="till-1") == [f"A-{i}" for i in range(5)]
    assert ids(external_id="A-3") == ["A-3"]
    assert ids(occurred_after="2026-06-20T00:00:00Z") == ["B-1"]
    assert ids(occurred_before="2026-06-20T00:00:00Z") == [f"A-{i}" for i in range(5)]


def test_a_customers_purchases_are_listed(api, org, enrollment, django_assert_max_num_queries):
    for index in range(3):
        record(enrollment.customer, f"A-{index}")
    record(EnrollmentFactory(customer__organization=org).customer, "B-1")
    url = f"/api/v1/customers/{enrollment.customer.public_id}/transactions/"

    with django_assert_max_num_queries(7):  # with their lines and returns
        response = api.get(url)

    assert sorted(row["external_id"] for row in response.json()["results"]) == [
        "A-0",
        "A-1",
        "A-2",
    ]
    stranger = CustomerFactory(organization=OrganizationFactory())
    assert api.get(f"/api/v1/customers/{stranger.public_id}/transactions/").status_code == 404


def test_a_simulation_answers_without_writing(api, org, enrollment):
    program = enrollment.program
    gold = TierFactory(program=program, number=2, name="Gold")
    enrollment.tier = gold
    enrollment.save()
    multiplier = make_rule(
        program, "category_multiplier", "Shoes", category="shoes", multiplier="2"
    )
    before = (Transaction.objects.count(), PointsTransaction.objects.count())

    response = api.post(
        f"/api/v1/programs/{program.pk}/simulate/",
        {"customer": enrollment.customer.public_id, "currency": "EUR", "lines": LINES},
        format="json",
    )

    assert response.status_code == 200, response.content
    reply = response.json()
    assert reply["points"] == 240
    assert [(r["rule_id"], r["points"]) for r in reply["rules"]][1] == (multiplier.pk, 120)
    assert (Transaction.objects.count(), PointsTransaction.objects.count()) == before
    other = ProgramFactory(organization=OrganizationFactory())
    assert (
        api.post(
            f"/api/v1/programs/{other.pk}/simulate/",
            {"currency": "EUR", "lines": LINES},
            format="json",
        ).status_code
        == 404
    )


def test_a_programmes_earning_rules_are_listed(api, org, enrollment, django_assert_max_num_queries):
    store = StoreFactory(organization=org, code="till-1")
    rule = make_rule(enrollment.program, "birthday_bonus", "Birthday", priority=1, points=5)
    rule.stores.add(store)

    with django_assert_max_num_queries(5):
        response = api.get(f"/api/v1/programs/{enrollment.program_id}/earning-rules/")

    rules = response.json()
    assert [r["name"] for r in rules] == ["Birthday", "Base"]
    assert rules[0]["parameters"] == {"points": 5}
    assert rules[0]["stores"] == ["till-1"]


def test_a_purchase_of_a_customer_who_may_not_earn_is_recorded_and_earns_nothing(
    api, org, enrollment
):
    label = StatusLabelFactory(organization=org, name="Fraud", status="fraud_confirmed")
    label.may_earn = False
    label.save()
    enrollment.customer.status_label = label
    enrollment.customer.save()

    response = api.post(URL, body(enrollment.customer), format="json")

    assert response.status_code == 201, response.content
    reply = response.json()
    assert (reply["points"], reply["earnings"]) == (0, [])
    [warning] = reply["warnings"]
    assert warning["code"] == "earning_blocked"
    assert "Fraud" in warning["message"]
    assert Transaction.objects.filter(customer=enrollment.customer).count() == 1
    assert not PointsTransaction.objects.filter(enrollment=enrollment).exists()
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 0

    again = api.post(URL, body(enrollment.customer), format="json")

    assert again.status_code == 200
    assert again.json()["warnings"] == reply["warnings"]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"sku": "A", "quantity": 1, "unit_price": ""}, "lines[0].unit_price"),
        ({"sku": "A", "quantity": 1, "unit_price": 12.5}, "lines[0].unit_price"),
        (
            {"sku": "A", "quantity": 1, "unit_price": "1", "line_amount": "-1"},
            "lines[0].line_amount",
        ),
    ],
)
def test_an_amount_is_a_decimal_string_as_the_schema_says(api, org, enrollment, line, field):
    response = api.post(URL, body(enrollment.customer, lines=[line]), format="json")

    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]
