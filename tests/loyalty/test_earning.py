"""What each earning rule contributes, and in which order they stack."""

import datetime as dt
from decimal import Decimal

import pytest

from loyalty.services.earning import Member, Purchase, PurchaseLine, earn
from tests.crm.factories import StoreFactory
from tests.loyalty.factories import EarningRuleFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db
NOON = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
MEMBER = Member(tier_number=None, birthday=None, first_purchase=False, earned_today=0)


def purchase(*lines, store_id=None, at=NOON):
    lines = lines or (PurchaseLine("SKU-1", "shoes", Decimal("100.00")),)
    total = sum((line.amount for line in lines), Decimal(0))
    return Purchase(total=total, lines=tuple(lines), occurred_at=at, store_id=store_id)


def rule(program, kind, priority=100, **parameters):
    return EarningRuleFactory(program=program, kind=kind, parameters=parameters, priority=priority)


def points_by_rule(contributions):
    return {c.rule_id: c.points for c in contributions}


@pytest.fixture
def program(org):
    return ProgramFactory(organization=org)


def base(program, points=1, per="1", rounding="down", **fields):
    parameters = {"points": points, "per": per, "rounding": rounding}
    return EarningRuleFactory(program=program, parameters=parameters, **fields)


@pytest.mark.parametrize(("rounding", "expected"), [("down", 3), ("nearest", 4), ("up", 4)])
def test_the_base_rate_rounds_as_the_rule_says(program, rounding, expected):
    rate = base(program, per="10", rounding=rounding)
    line = PurchaseLine("S", "", Decimal("35.00"))

    assert points_by_rule(earn([rate], purchase(line), MEMBER)) == {rate.pk: expected}


def test_nearest_rounds_a_half_up(program):
    rate = base(program, per="10", rounding="nearest")
    contributions = earn([rate], purchase(PurchaseLine("S", "", Decimal("34.99"))), MEMBER)
    assert points_by_rule(contributions) == {rate.pk: 3}


def test_a_purchase_under_the_minimum_spend_earns_nothing(program):
    rate = base(program)
    minimum = rule(program, "minimum_spend", amount="150")

    contributions = earn([rate, minimum], purchase(), MEMBER)

    assert [(c.rule_id, c.points) for c in contributions] == [(minimum.pk, 0)]
    assert points_by_rule(
        earn([rate, minimum], purchase(PurchaseLine("S", "", Decimal("150"))), MEMBER)
    ) == {rate.pk: 150}


def test_a_category_multiplier_counts_only_its_lines(program):
    rate = base(program)
    shoes = rule(program, "category_multiplier", category="shoes", multiplier="3")
    lines = (PurchaseLine("A", "shoes", Decimal("60")), PurchaseLine("B", "hats", Decimal("40")))

    assert points_by_rule(earn([rate, shoes], purchase(*lines), MEMBER)) == {
        rate.pk: 100,
        shoes.pk: 120,
    }


def test_a_sku_multiplier_counts_only_its_lines(program):
    rate = base(program)
    sku = rule(program, "sku_multiplier", sku="B", multiplier="1.5")
    lines = (PurchaseLine("A", "shoes", Decimal("60")), PurchaseLine("B", "hats", Decimal("40")))

    assert points_by_rule(earn([rate, sku], purchase(*lines), MEMBER)) == {rate.pk: 100, sku.pk: 20}


def test_a_tier_multiplier_counts_for_its_tier_only(program):
    TierFactory(program=program, number=2)
    rate = base(program)
    gold = rule(program, "tier_multiplier", tier=2, multiplier="2")
    gold_member = Member(tier_number=2, birthday=None, first_purchase=False, earned_today=0)

    assert points_by_rule(earn([rate, gold], purchase(), gold_member)) == {
        rate.pk: 100,
        gold.pk: 100,
    }
    assert points_by_rule(earn([rate, gold], purchase(), MEMBER)) == {rate.pk: 100}


def test_multipliers_add_to_the_base_rather_than_compound(program):
    rate = base(program)
    shoes = rule(program, "category_multiplier", category="shoes", multiplier="2")
    sku = rule(program, "sku_multiplier", sku="SKU-1", multiplier="2")

    assert sum(c.points for c in earn([sku, rate, shoes], purchase(), MEMBER)) == 300


def test_a_first_purchase_bonus_counts_once(program):
    bonus = rule(program, "first_purchase_bonus", points=50)
    first = Member(tier_number=None, birthday=None, first_purchase=True, earned_today=0)

    assert points_by_rule(earn([bonus], purchase(), first)) == {bonus.pk: 50}
    assert earn([bonus], purchase(), MEMBER) == []


def test_a_birthday_bonus_counts_on_the_birthday(program):
    bonus = rule(program, "birthday_bonus", points=25)
    born = Member(
        tier_number=None, birthday=dt.date(1990, 6, 15), first_purchase=False, earned_today=0
    )
    leap = Member(
        tier_number=None, birthday=dt.date(2000, 2, 29), first_purchase=False, earned_today=0
    )

    assert points_by_rule(earn([bonus], purchase(), born)) == {bonus.pk: 25}
    assert earn([bonus], purchase(at=NOON + dt.timedelta(days=1)), born) == []
    feb_28 = dt.datetime(2027, 2, 28, 12, tzinfo=dt.UTC)
    assert points_by_rule(earn([bonus], purchase(at=feb_28), leap)) == {bonus.pk: 25}


def test_a_transaction_cap_cuts_the_latest_contributions_first(program):
    rate = base(program)
    bonus = rule(program, "first_purchase_bonus", points=50)
    cap = rule(program, "transaction_cap", points=120)
    first = Member(tier_number=None, birthday=None, first_purchase=True, earned_today=0)

    contributions = earn([cap, bonus, rate], purchase(), first)

    assert [(c.rule_id, c.points) for c in contributions] == [
        (rate.pk, 100),
        (bonus.pk, 20),
        (cap.pk, -30),
    ]
    assert "cut by a cap" in contributions[1].reason


def test_a_daily_cap_counts_what_the_day_earned_before(program):
    rate = base(program)
    cap = rule(program, "daily_cap", points=150)
    busy = Member(tier_number=None, birthday=None, first_purchase=False, earned_today=120)

    assert points_by_rule(earn([rate, cap], purchase(), busy)) == {rate.pk: 30, cap.pk: -70}
    assert points_by_rule(earn([rate, cap], purchase(), MEMBER)) == {rate.pk: 100}


def test_rules_apply_in_their_window_and_stores_only(program, org):
    later = base(program, active_from=NOON + dt.timedelta(hours=1))
    ended = base(program, active_until=NOON)
    in_force = base(program, active_from=NOON, active_until=NOON + dt.timedelta(hours=1))
    elsewhere = base(program)
    elsewhere.stores.add(StoreFactory(organization=org))
    here = base(program)
    store = StoreFactory(organization=org)
    here.stores.add(store)

    contributions = earn(
        [later, ended, in_force, elsewhere, here], purchase(store_id=store.pk), MEMBER
    )

    assert points_by_rule(contributions) == {in_force.pk: 100, here.pk: 100}


def test_within_a_stage_priority_decides_the_order(program):
    second = base(program, priority=20)
    first = base(program, points=2, priority=10)

    assert [c.rule_id for c in earn([second, first], purchase(), MEMBER)] == [first.pk, second.pk]


def test_the_worked_example_of_the_docs(program):
    """docs/loyalty.md, "A worked example"."""
    TierFactory(program=program, number=2, name="Gold")
    rate = base(program, per="10.00")
    shoes = rule(program, "category_multiplier", category="shoes", multiplier="2")
    gold = rule(program, "tier_multiplier", tier=2, multiplier="1.5")
    member = Member(tier_number=2, birthday=None, first_purchase=False, earned_today=0)
    shoes_purchase = purchase(PurchaseLine("RUN-1", "shoes", Decimal("1200.00")))

    contributions = earn([gold, shoes, rate], shoes_purchase, member)

    assert [(c.rule_id, c.points) for c in contributions] == [
        (rate.pk, 120),
        (shoes.pk, 120),
        (gold.pk, 60),
    ]
    assert [c.reason for c in contributions] == [
        "1 per 10.00 on 1200.00",
        "x2 for 1200.00 spent on shoes",
        "x1.5 for tier 2",
    ]
    cap = rule(program, "transaction_cap", points=250)
    capped = earn([gold, shoes, rate, cap], shoes_purchase, member)
    assert [(c.rule_id, c.points) for c in capped] == [
        (rate.pk, 120),
        (shoes.pk, 120),
        (gold.pk, 10),
        (cap.pk, -50),
    ]
