"""Purchase points pending for the return window, activated by the beat, expiring counted from
activation; and the ledger invariant with pending points and debts under every policy."""

import datetime as dt

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from loyalty.models import Enrollment, PointsLot
from loyalty.services.merging import enrollment_absorb
from loyalty.services.points import (
    points_activate_due,
    points_award,
    points_expire_due,
)
from loyalty.services.rewards_catalogue import points_reward_redeem
from loyalty.tasks import points_activate_task
from tests.assertions import refused
from tests.loyalty.factories import EnrollmentFactory, PointsRewardFactory, TierFactory
from tests.loyalty.test_returns import buy, give_back, make_rule, spend, totals, use_policy

pytestmark = pytest.mark.django_db
TILL = Actor("api_key", "1 till")
NOW = timezone.now()


@pytest.fixture
def clock(monkeypatch):
    """Moves the services' clock to `NOW + days`."""

    def move(days):
        monkeypatch.setattr(timezone, "now", lambda: NOW + dt.timedelta(days=days))

    move(0)
    return move


@pytest.fixture
def enrollment(org):
    enrollment = EnrollmentFactory(
        customer__organization=org, program__pending_days=30, program__points_valid_days=10
    )
    make_rule(enrollment.program, "base_rate", name="Base", points=1, per="1", rounding="down")
    return enrollment


def test_purchase_points_are_pending_for_the_return_window(org, enrollment, clock):
    result = buy(enrollment)  # a day ago: pending 29 days more

    [row] = result.earnings[0].rows
    assert row.activates_at == result.transaction.occurred_at + dt.timedelta(days=30)
    assert totals(enrollment) == (0, 100, 100)
    with refused(ErrorCode.INSUFFICIENT_POINTS, "points"):
        spend(enrollment, 1)
    reward = PointsRewardFactory(program=enrollment.program, points_cost=50)
    with refused(ErrorCode.INSUFFICIENT_POINTS, "reward"):
        points_reward_redeem(
            organization=org, customer=enrollment.customer, reward=reward, actor=TILL
        )


def test_a_purchase_recorded_after_its_window_is_spendable_at_once(org, enrollment, clock):
    buy(enrollment, days_ago=31)
    assert totals(enrollment) == (100, 0, 100)


def test_activation_makes_the_points_spendable_once(org, enrollment, clock):
    buy(enrollment)
    other = EnrollmentFactory(customer__organization=org, program=enrollment.program)
    buy(other, "T-2", days_ago=10)

    clock(25)  # the other's window is over, this one's is not
    first = points_activate_due()
    again = points_activate_due()

    assert (first.lots, first.points) == (1, 100)
    assert (again.lots, again.points) == (0, 0)
    assert totals(other) == (100, 0, 100)
    assert totals(enrollment) == (0, 100, 100)
    spend(other, 100)
    clock(29)
    points_activate_task.apply().get()
    points_activate_task.apply().get()
    assert totals(enrollment) == (100, 0, 100)
    assert totals(other) == (0, 0, 100)


def test_expiry_counts_from_activation(org, enrollment, clock):
    result = buy(enrollment)
    [row] = result.earnings[0].rows
    assert row.expires_at == row.activates_at + dt.timedelta(days=10)

    clock(29)  # 30 days after the purchase
    points_activate_due()
    clock(38)  # 9 days after activation
    assert (points_expire_due().points, totals(enrollment)[0]) == (0, 100)
    clock(39)
    assert points_expire_due().points == 100
    assert totals(enrollment) == (0, 0, 100)


def test_points_valid_from_the_purchase_when_there_is_no_window(org, clock):
    enrollment = EnrollmentFactory(customer__organization=org, program__points_valid_days=10)
    make_rule(enrollment.program, "base_rate", name="Base", points=1, per="1", rounding="down")

    [row] = buy(enrollment).earnings[0].rows

    assert (row.activates_at, row.expires_at) == (None, NOW + dt.timedelta(days=10))
    assert PointsLot.objects.get().expires_at == row.expires_at


def test_pending_points_never_expire_before_they_activate(org, enrollment, clock):
    buy(enrollment)
    clock(45)  # past expiry, but the activation job has not run
    assert points_expire_due().points == 0
    assert totals(enrollment) == (0, 100, 100)


def test_a_spend_activates_what_is_due_first(org, enrollment, clock):
    buy(enrollment)
    clock(29)
    spend(enrollment, 40)
    assert totals(enrollment) == (60, 0, 100)


def test_after_activation_a_return_follows_the_policy(org, enrollment, clock):
    use_policy(enrollment, "within_balance", pending_days=30)
    purchase = buy(enrollment).transaction
    clock(29)
    points_activate_due()

    result = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])

    assert (result.programs[0].clawed_back, result.programs[0].cancelled) == (50, 0)
    assert totals(enrollment) == (50, 0, 50)


def test_a_window_that_ended_is_over_for_a_return_too(org, enrollment, clock):
    use_policy(enrollment, "pending_only", pending_days=30)
    purchase = buy(enrollment).transaction
    clock(29)  # over, though the job has not run: the points are spendable, not cancelled

    result = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])

    assert (result.programs[0].cancelled, result.programs[0].shortfall) == (0, 50)
    assert totals(enrollment) == (100, 0, 50)


def test_pending_points_repay_a_debt_when_they_activate(org, enrollment, clock):
    use_policy(enrollment, "allow_negative", pending_days=30)
    old = buy(enrollment, "T-0", days_ago=40).transaction
    spend(enrollment, 100)
    give_back(old, lines=[{"sku": "RUN-1", "quantity": 2}])
    assert totals(enrollment) == (-100, 0, 0)
    buy(enrollment, lines=[{"sku": "TV", "quantity": 1, "unit_price": "130.00"}])
    assert totals(enrollment) == (-100, 130, 130)

    clock(29)
    points_activate_due()

    assert totals(enrollment) == (30, 0, 130)
    assert PointsLot.objects.get(points=130).remaining == 30


def test_a_merge_moves_pending_points_as_pending_and_a_debt_as_a_debt(org, enrollment, clock):
    use_policy(enrollment, "allow_negative", pending_days=30)
    old = buy(enrollment, "T-0", days_ago=40).transaction
    spend(enrollment, 100)
    give_back(old, amount="40.00")
    buy(enrollment)
    survivor = EnrollmentFactory(customer__organization=org, program=enrollment.program)
    points_award(organization=org, enrollment=survivor, points=70, actor=TILL)

    enrollment_absorb(survivor=survivor, merged=enrollment, actor=TILL)

    assert totals(enrollment) == (0, 0, 160)
    assert totals(survivor) == (30, 100, 230)
    clock(29)
    points_activate_due()
    assert totals(survivor) == (130, 0, 230)


# --- the invariant, under any sequence of operations ------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.integers(1, 5), st.sampled_from([1, 40])),  # units, days ago
        st.tuples(st.just("return units"), st.integers(0, 5), st.integers(1, 3)),
        st.tuples(st.just("refund"), st.integers(0, 5), st.integers(1, 120)),
        st.tuples(st.just("spend"), st.integers(1, 200), st.none()),
        st.tuples(st.just("award"), st.integers(1, 80), st.none()),
        st.tuples(st.just("days pass"), st.integers(1, 40), st.none()),
    ),
    max_size=10,
)


@pytest.mark.parametrize("policy", ["within_balance", "allow_negative", "pending_only"])
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_the_ledger_is_the_balance_and_the_pending_points_in_every_policy(org, clock, policy, ops):
    clock(0)
    enrollment = EnrollmentFactory(customer__organization=org, program__pending_days=30)
    use_policy(enrollment, policy, pending_days=30)
    make_rule(enrollment.program, "base_rate", name="Base", points=1, per="1", rounding="down")
    make_rule(enrollment.program, "first_purchase_bonus", name="Welcome", points=7)
    purchases, elapsed, key = [], 0, f"{enrollment.pk}-"
    for name, first, second in ops:
        key += "+"
        if name == "buy":
            line = {"sku": "A", "quantity": first, "unit_price": "20.00"}
            purchases.append(buy(enrollment, f"T-{key}", [line], second).transaction)
        elif name in ("return units", "refund") and purchases:
            purchase = purchases[first % len(purchases)]
            what = (
                {"lines": [{"sku": "A", "quantity": second}]}
                if name == "return units"
                else {"amount": f"{second}.00"}
            )
            refusal = None
            try:
                give_back(purchase, f"R-{key}", **what)
            except DomainError as error:  # more than is left: refused, nothing written
                refusal = error.code
            assert refusal in (None, ErrorCode.RETURN_EXCEEDS_PURCHASE)
        elif name == "spend":
            balance = Enrollment.objects.get(pk=enrollment.pk).points_balance
            if first > balance:
                with refused(ErrorCode.INSUFFICIENT_POINTS):
                    spend(enrollment, first)
            else:
                spend(enrollment, first)
        elif name == "award":
            points_award(organization=org, enrollment=enrollment, points=first, actor=TILL)
        elif name == "days pass":
            elapsed += first
            clock(elapsed)
            points_activate_due()
        balance, pending, _ = totals(enrollment)
        assert pending >= 0
        if policy != "allow_negative":
            assert balance >= 0


def test_the_worked_example_of_the_docs(org, monkeypatch):
    def on(day, hour=12):
        moment = dt.datetime(2026, 6, day, hour, tzinfo=dt.UTC)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    on(1)
    enrollment = EnrollmentFactory(
        customer__organization=org,
        program__pending_days=14,
        program__points_valid_days=365,
        program__clawback_policy="within_balance",
    )
    program = enrollment.program
    TierFactory(program=program, number=1, name="Silver")
    TierFactory(program=program, number=2, name="Gold", points_threshold=60)
    make_rule(program, "base_rate", name="Base", points=1, per="10.00", rounding="down")
    make_rule(program, "category_multiplier", name="Shoes double", category="shoes", multiplier="2")
    make_rule(program, "first_purchase_bonus", name="Welcome", points=50)
    shoes = {"sku": "RUN-1", "category": "shoes", "quantity": 2, "unit_price": "60.00"}
    socks = {"sku": "SOCK", "category": "socks", "quantity": 1, "unit_price": "30.00"}

    bought = buy(enrollment, "till-7-000123", [shoes, socks], days_ago=0)
    assert [row.points for row in bought.earnings[0].rows] == [15, 12, 50]
    assert {row.activates_at for row in bought.earnings[0].rows} == {on(15)}
    assert {row.expires_at for row in bought.earnings[0].rows} == {
        dt.datetime(2027, 6, 15, 12, tzinfo=dt.UTC)
    }
    on(1)
    assert totals(enrollment) == (0, 77, 77)
    assert bought.tier_changes[0].to_tier.name == "Gold"

    on(5)
    first = give_back(bought.transaction, "R-1", lines=[{"sku": "RUN-1", "quantity": 1}])
    assert [(c.award.rule.name, c.points, c.row.kind) for c in first.programs[0].clawbacks] == [
        ("Base", 6, "cancel"),
        ("Shoes double", 6, "cancel"),
    ]
    assert (totals(enrollment), first.tier_changes) == ((0, 65, 65), [])

    on(15, 13)
    points_activate_due()
    spend(enrollment, 50)
    assert totals(enrollment) == (15, 0, 65)

    on(20)
    last = give_back(
        bought.transaction,
        "R-2",
        lines=[{"sku": "RUN-1", "quantity": 1}, {"sku": "SOCK", "quantity": 1}],
    )
    [taken] = last.programs
    assert [(c.award.rule.name, c.points, c.taken) for c in taken.clawbacks] == [
        ("Base", 9, 9),
        ("Shoes double", 6, 6),
        ("Welcome", 50, 0),
    ]
    assert (taken.points, taken.clawed_back, taken.shortfall) == (65, 15, 50)
    assert [(c.from_tier.name, c.to_tier.name) for c in last.tier_changes] == [("Gold", "Silver")]
    assert totals(enrollment) == (0, 0, 0)
