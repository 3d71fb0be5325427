"""Recording a purchase: what it checks, writes and earns; configuring earning rules."""

import datetime as dt
from decimal import Decimal

import pytest

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers.services.update import customer_delete
from loyalty.models import PointsLot, PointsTransaction
from loyalty.services.earning_rules import earning_rule_create, earning_rule_delete
from loyalty.services.merging import loyalty_merge
from loyalty.services.purchases import purchase_simulate, transaction_record
from loyalty.tiers import TierChange
from loyalty.transactions import Transaction, TransactionLine
from tests.crm.factories import OrganizationFactory, StoreFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import EnrollmentFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db
TILL = Actor("api_key", "1 till")
NOON = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
SHOES = [{"sku": "RUN-1", "category": "shoes", "quantity": 2, "unit_price": "50.00"}]


def make_rule(program, kind, name="Rule", **parameters):
    return earning_rule_create(
        program=program,
        name=name,
        kind=kind,
        parameters=parameters,
        priority=100,
        active_from=None,
        active_until=None,
        actor=TILL,
    )


@pytest.fixture
def enrollment(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    make_rule(enrollment.program, "base_rate", name="Base", points=1, per="1", rounding="down")
    return enrollment


def record(org, customer, external_id="T-1", lines=SHOES, **overrides):
    values = {
        "organization": org,
        "customer": customer,
        "store_code": None,
        "external_id": external_id,
        "occurred_at": NOON,
        "currency": "EUR",
        "lines": lines,
        "channel": "INSTORE",
        "actor": TILL,
    }
    return transaction_record(**{**values, **overrides})


def test_a_purchase_earns_each_rule_as_its_own_award(org, enrollment):
    bonus = make_rule(enrollment.program, "first_purchase_bonus", name="Welcome", points=30)

    result = record(org, enrollment.customer)

    assert result.created
    assert result.transaction.total_amount == Decimal("100.00")
    line = TransactionLine.objects.get()
    assert (line.quantity, line.line_amount) == (2, Decimal("100.00"))
    [earning] = result.earnings
    assert earning.points == 130
    assert [(r.points, r.rule_id, r.purchase_id) for r in earning.rows] == [
        (100, earning.rows[0].rule_id, result.transaction.pk),
        (30, bonus.pk, result.transaction.pk),
    ]
    assert earning.rows[1].reason == "Welcome: First purchase"
    enrollment.refresh_from_db()
    assert (enrollment.points_balance, enrollment.points_earned) == (130, 130)
    assert PointsLot.objects.filter(enrollment=enrollment).count() == 2


def test_the_same_purchase_again_returns_the_first_result_and_earns_nothing(org, enrollment):
    first = record(org, enrollment.customer)
    again = record(org, enrollment.customer, lines=[{"sku": "X", "quantity": 9, "unit_price": 9}])

    assert not again.created
    assert again.transaction.pk == first.transaction.pk
    assert [r.pk for r in again.earnings[0].rows] == [r.pk for r in first.earnings[0].rows]
    assert PointsTransaction.objects.count() == 1
    assert Transaction.objects.count() == 1


def test_the_same_external_id_in_another_organization_is_another_purchase(org, enrollment):
    other = EnrollmentFactory()
    record(org, enrollment.customer)
    assert record(other.customer.organization, other.customer).created


def test_a_purchase_promotes_the_tier_and_names_itself_on_the_change(org, enrollment):
    TierFactory(program=enrollment.program, number=1, points_threshold=0)
    gold = TierFactory(program=enrollment.program, number=2, name="Gold", points_threshold=100)

    result = record(org, enrollment.customer)

    [change] = result.tier_changes
    assert change.to_tier == gold
    assert TierChange.objects.get(to_tier=gold).purchase == result.transaction
    assert record(org, enrollment.customer).tier_changes == [change]


def test_only_active_programmes_earn(org, enrollment):
    closed = EnrollmentFactory(customer=enrollment.customer, program__active=False)
    make_rule(closed.program, "base_rate", points=5, per="1", rounding="down")

    result = record(org, enrollment.customer)

    assert [e.enrollment.pk for e in result.earnings] == [enrollment.pk]


def test_a_rule_changed_later_leaves_earlier_purchases_as_they_were(org, enrollment):
    record(org, enrollment.customer)
    make_rule(enrollment.program, "birthday_bonus", points=10)
    enrollment.customer.birthday = dt.date(1990, 6, 15)
    enrollment.customer.save()

    second = record(org, enrollment.customer, external_id="T-2")

    assert second.earnings[0].points == 110
    assert PointsTransaction.objects.filter(purchase__external_id="T-1").count() == 1


def test_a_daily_cap_counts_the_days_earlier_purchases(org, enrollment):
    make_rule(enrollment.program, "daily_cap", points=150)
    record(org, enrollment.customer)
    second = record(org, enrollment.customer, external_id="T-2")
    next_day = record(
        org, enrollment.customer, external_id="T-3", occurred_at=NOON + dt.timedelta(days=1)
    )

    assert second.earnings[0].points == 50
    assert next_day.earnings[0].points == 100


def test_a_purchase_at_a_store_is_kept_with_it(org, enrollment):
    store = StoreFactory(organization=org, code="till-1")
    assert record(org, enrollment.customer, store_code="till-1").transaction.store == store
    with pytest.raises(DomainError) as error:
        record(org, enrollment.customer, external_id="T-2", store_code="nowhere")
    assert (error.value.code, error.value.field) == (ErrorCode.STORE_UNKNOWN, "store")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "eur"}, "currency"),
        ({"external_id": ""}, "external_id"),
        ({"occurred_at": "2026-06-15T12:00"}, "occurred_at"),
        ({"channel": "PIGEON"}, "channel"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "A", "quantity": 0, "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price": "1.001"}]}, "lines[0].unit_price"),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price": "-1"}]}, "lines[0].unit_price"),
        ({"lines": [{"quantity": 1, "unit_price": "1"}]}, "lines[0].sku"),
        (
            {"currency": "JPY", "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.5"}]},
            "lines[0].unit_price",
        ),
        ({"lines": [{"sku": "A", "quantity": 1, "unit_price": "1", "line_amount": "1.5"}]}, None),
    ],
)
def test_what_is_wrong_is_named(org, enrollment, overrides, field):
    if field is None:  # EUR has cents
        assert record(org, enrollment.customer, **overrides).created
        return
    with pytest.raises(DomainError) as error:
        record(org, enrollment.customer, **overrides)
    assert error.value.field == field
    assert not Transaction.objects.exists()


def test_minor_units_follow_the_currency(org, enrollment):
    lines = [{"sku": "A", "quantity": 1, "unit_price": "1.005"}]
    assert record(org, enrollment.customer, currency="KWD", lines=lines).created


def test_another_organizations_customer_is_not_found(org):
    stranger = CustomerFactory(organization=OrganizationFactory())
    with pytest.raises(DomainError) as error:
        record(org, stranger)
    assert error.value.code == ErrorCode.NOT_FOUND


def test_a_simulation_writes_nothing(org, enrollment):
    simulation = purchase_simulate(
        program=enrollment.program,
        customer=enrollment.customer,
        store_code=None,
        occurred_at=None,
        currency="EUR",
        lines=SHOES,
    )
    assert simulation.points == 100
    assert not Transaction.objects.exists()
    assert not PointsTransaction.objects.exists()


def test_a_simulation_counts_the_tier_it_is_given_of_the_programme_only(org, enrollment):
    program = enrollment.program
    gold = TierFactory(program=program, number=2, name="Gold")
    make_rule(program, "tier_multiplier", name="Gold bonus", tier=2, multiplier="1.5")

    def simulate(tier):
        return purchase_simulate(
            program=program,
            customer=None,
            tier=tier,
            store_code=None,
            occurred_at=None,
            currency="EUR",
            lines=SHOES,
        )

    assert (simulate(None).points, simulate(gold).points) == (100, 150)
    with pytest.raises(DomainError) as error:
        simulate(TierFactory(program=ProgramFactory(organization=org), number=2))
    assert (error.value.code, error.value.field) == (ErrorCode.TIER_UNKNOWN, "tier")


# --- configuring rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "parameters", "field"),
    [
        ("base_rate", {"points": 1, "per": "0", "rounding": "down"}, "parameters.per"),
        ("base_rate", {"points": 1, "per": "1", "rounding": "sideways"}, "parameters.rounding"),
        ("base_rate", {"points": 1, "per": "1"}, "parameters.rounding"),
        ("base_rate", {"points": 0, "per": "1", "rounding": "up"}, "parameters.points"),
        ("minimum_spend", {"amount": "x"}, "parameters.amount"),
        ("category_multiplier", {"category": "", "multiplier": "2"}, "parameters.category"),
        ("sku_multiplier", {"sku": "A", "multiplier": "1"}, "parameters.multiplier"),
        ("tier_multiplier", {"tier": 9, "multiplier": "2"}, "parameters.tier"),
        ("birthday_bonus", {"points": 5, "extra": 1}, "parameters.extra"),
        ("nonsense", {}, "kind"),
    ],
)
def test_a_rules_parameters_are_checked(org, kind, parameters, field):
    with pytest.raises(DomainError) as error:
        make_rule(ProgramFactory(organization=org), kind, **parameters)
    assert error.value.field == field


def test_a_rule_keeps_its_decimals_as_text(org):
    rule = make_rule(ProgramFactory(organization=org), "sku_multiplier", sku=" A ", multiplier=2)
    assert rule.parameters == {"sku": "A", "multiplier": "2"}


def test_a_rule_that_earned_points_cannot_be_deleted(org, enrollment):
    record(org, enrollment.customer)
    rule = enrollment.program.earning_rules.get()
    with pytest.raises(DomainError) as error:
        earning_rule_delete(rule=rule, actor=TILL)
    assert error.value.code == ErrorCode.IN_USE


def test_deleting_a_customer_deletes_their_purchases_and_what_they_earned(org, enrollment):
    record(org, enrollment.customer)

    customer_delete(customer=enrollment.customer, actor=TILL)

    assert not Transaction.objects.exists()
    assert not PointsTransaction.objects.exists()


def test_a_merged_customers_purchases_go_to_the_survivor(org, enrollment):
    survivor = CustomerFactory(organization=org)
    record(org, enrollment.customer)

    loyalty_merge(survivor=survivor, merged=enrollment.customer, actor=TILL)

    assert Transaction.objects.get().customer == survivor
