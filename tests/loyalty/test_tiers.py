"""Tiers that qualify over a window, are reached at once, and are renewed, upgraded or downgraded
at the end of their period, never below a tier set by staff before its own expiry."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.actors import SYSTEM, Actor
from customers.models import AuditEvent
from loyalty.choices import TierChangeReason
from loyalty.models import Enrollment
from loyalty.services.enrolments import enrollment_create, tier_set
from loyalty.services.points import points_award
from loyalty.services.purchases import transaction_record
from loyalty.services.returns import return_record
from loyalty.services.tier_changes import (
    add_months,
    change_tier,
    qualifying_figure,
    tier_expiry,
    tier_floor_set,
)
from loyalty.services.tier_renewals import Renewals, tiers_renew_due
from loyalty.tasks import tiers_renew_task
from loyalty.tiers import TierChange
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import (
    AwardFactory,
    EarningRuleFactory,
    EnrollmentFactory,
    ProgramFactory,
    TierFactory,
    TransactionFactory,
)

pytestmark = pytest.mark.django_db
CLERK = Actor("staff", "7 clerk")
UTC = dt.UTC
END = dt.datetime(2026, 6, 30, 12, 0, tzinfo=UTC)  # when the tiers below expire
AFTER = END + dt.timedelta(days=1)  # when the daily task runs
TICK = dt.timedelta(microseconds=1)


def club(org, window="rolling_12_months", basis="points", **settings):
    """A programme with Silver (lowest), Gold at 1,000 and Platinum at 5,000 (points or spend)."""
    program = ProgramFactory(organization=org, tier_window=window, tier_basis=basis, **settings)
    thresholds = {"points_threshold": None, "spend_threshold": None}
    tiers = []
    for number, (name, threshold) in enumerate(
        [("Silver", None), ("Gold", 1000), ("Platinum", 5000)], start=1
    ):
        values = {**thresholds, f"{basis}_threshold": threshold}
        tiers.append(TierFactory(program=program, number=number, name=name, **values))
    return program, tiers


def member(program, tier, expires_at=END):
    return EnrollmentFactory(
        customer=CustomerFactory(organization=program.organization),
        program=program,
        tier=tier,
        tier_expires_at=expires_at,
    )


def earned(enrollment, points, at):
    return AwardFactory(enrollment=enrollment, points=points, created_at=at)


def changes(enrollment):
    return [
        (c.reason, c.from_tier.name if c.from_tier else None, c.to_tier.name, c.tier_expires_at)
        for c in TierChange.objects.filter(enrollment=enrollment).order_by("pk")
    ]


def reloaded(enrollment):
    return Enrollment.objects.select_related("tier").get(pk=enrollment.pk)


# --- the qualifying figure ---------------------------------------------------------------------


def test_the_rolling_window_counts_awards_of_the_12_months_up_to_its_end(org):
    program, (silver, *_) = club(org)
    enrollment = member(program, silver, None)
    year_before = dt.datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
    earned(enrollment, 1, year_before)  # the window's start: outside it
    earned(enrollment, 10, year_before + TICK)
    earned(enrollment, 100, END)  # its end: inside
    earned(enrollment, 1000, END + TICK)
    AwardFactory(enrollment=enrollment, kind="deduct", points=-50, created_at=END - TICK)
    AwardFactory(enrollment=enrollment, kind="transfer_in", points=7, created_at=END - TICK)

    assert qualifying_figure(reloaded(enrollment), end=END) == 110
    # A moment later, the window has moved on by as much.
    assert qualifying_figure(reloaded(enrollment), end=END + TICK) == 1100


def test_the_calendar_year_counts_from_new_year_and_at_midnight_is_the_year_just_ended(org):
    program, (silver, *_) = club(org, window="calendar_year")
    enrollment = reloaded(member(program, silver, None))
    new_year = dt.datetime(2026, 1, 1, tzinfo=UTC)
    earned(enrollment, 1, new_year)  # the stroke of midnight belongs to 2025
    earned(enrollment, 10, new_year + TICK)
    earned(enrollment, 100, END)
    earned(enrollment, 1000, dt.datetime(2027, 1, 1, tzinfo=UTC))

    assert qualifying_figure(enrollment, end=END) == 110
    assert qualifying_figure(enrollment, end=new_year) == 1
    assert qualifying_figure(enrollment, end=dt.datetime(2027, 1, 1, tzinfo=UTC)) == 1110


def test_the_calendar_year_is_the_servers_local_year(org):
    program, (silver, *_) = club(org, window="calendar_year")
    enrollment = reloaded(member(program, silver, None))
    # 31 December 20:00 UTC is 1 January 01:30 in Kolkata.
    earned(enrollment, 10, dt.datetime(2025, 12, 31, 20, 0, tzinfo=UTC))

    with timezone.override("Asia/Kolkata"):
        assert qualifying_figure(enrollment, end=END) == 10
        assert tier_expiry(program, list(program.tiers.all()), program.tiers.last(), END) == (
            dt.datetime(2026, 12, 31, 18, 30, tzinfo=UTC)
        )


def test_spend_is_the_total_of_the_customers_purchases_that_earned_in_the_window(org):
    program, (silver, *_) = club(org, basis="spend")
    enrollment = reloaded(member(program, silver, None))
    customer = enrollment.customer
    year_before = dt.datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
    for amount, at in [("1.00", year_before), ("250.50", END - TICK), ("100.25", END)]:
        TransactionFactory(customer=customer, total_amount=Decimal(amount), occurred_at=at)
    TransactionFactory(customer=customer, total_amount=Decimal(900), occurred_at=END + TICK)
    TransactionFactory(
        customer=customer, total_amount=Decimal(70), occurred_at=END, earning_withheld="Blocked."
    )
    TransactionFactory(customer__organization=org, total_amount=Decimal(500), occurred_at=END)
    earned(enrollment, 5000, END)  # points do not count

    assert qualifying_figure(enrollment, end=END) == Decimal("350.75")


def test_without_a_window_points_are_all_the_points_ever_earned(org):
    program, (silver, *_) = club(org, window="lifetime")
    enrollment = member(program, silver, None)
    Enrollment.objects.filter(pk=enrollment.pk).update(points_earned=1234)

    assert qualifying_figure(reloaded(enrollment), end=END) == 1234


def test_months_are_added_in_local_time_keeping_to_the_months_last_day():
    assert add_months(dt.datetime(2027, 1, 31, 9, tzinfo=UTC), 1) == dt.datetime(
        2027, 2, 28, 9, tzinfo=UTC
    )
    assert add_months(dt.datetime(2028, 2, 29, 9, tzinfo=UTC), -12) == dt.datetime(
        2027, 2, 28, 9, tzinfo=UTC
    )
    assert add_months(END, 18) == dt.datetime(2027, 12, 30, 12, tzinfo=UTC)


# --- reaching a tier at once -------------------------------------------------------------------


def test_an_award_that_reaches_a_tier_moves_up_at_once_for_a_tier_period(org):
    program, (silver, gold, _) = club(org, tier_period_months=6)
    enrollment = enrollment_create(
        organization=org, customer=CustomerFactory(organization=org), program=program, actor=CLERK
    ).enrollment
    assert (enrollment.tier, enrollment.tier_expires_at) == (silver, None)  # lowest: no expiry

    before = timezone.now()
    points_award(organization=org, enrollment=enrollment, points=1000, actor=CLERK)
    after = timezone.now()

    enrollment = reloaded(enrollment)
    assert enrollment.tier == gold
    assert add_months(before, 6) <= enrollment.tier_expires_at <= add_months(after, 6)
    assert changes(enrollment)[-1][:3] == ("threshold", "Silver", "Gold")


def test_with_the_calendar_year_a_tier_reached_lasts_to_the_end_of_the_year(org):
    program, (silver, gold, _) = club(org, window="calendar_year")
    enrollment = member(program, silver, None)

    points_award(organization=org, enrollment=enrollment, points=1000, actor=CLERK)

    next_year = timezone.localtime().year + 1
    expected = dt.datetime(next_year, 1, 1, tzinfo=timezone.get_current_timezone())
    assert (reloaded(enrollment).tier, reloaded(enrollment).tier_expires_at) == (gold, expected)


def test_only_points_earned_in_the_window_reach_a_tier(org):
    program, (silver, _, _) = club(org)
    enrollment = member(program, silver, None)
    earned(enrollment, 900, timezone.now() - dt.timedelta(days=400))

    points_award(organization=org, enrollment=enrollment, points=200, actor=CLERK)

    assert reloaded(enrollment).tier == silver  # 200 in the window, though 1,100 earned


def test_a_purchase_reaches_a_tier_by_spend(org):
    program, (silver, gold, _) = club(org, basis="spend")
    enrollment = member(program, silver, None)

    result = transaction_record(
        organization=org,
        customer=enrollment.customer,
        store_code=None,
        external_id="till-1",
        occurred_at=timezone.now().isoformat(),
        currency="EUR",
        lines=[{"sku": "COAT", "quantity": 1, "unit_price": "1000.00"}],
        channel="INSTORE",
        actor=CLERK,
    )

    assert reloaded(enrollment).tier == gold
    assert [change.to_tier for change in result.tier_changes] == [gold]


def bought(enrollment, external_id, quantity=1, unit_price="1000.00"):
    return transaction_record(
        organization=enrollment.program.organization,
        customer=enrollment.customer,
        store_code=None,
        external_id=external_id,
        occurred_at=timezone.now().isoformat(),
        currency="EUR",
        lines=[{"sku": "COAT", "quantity": quantity, "unit_price": unit_price}],
        channel="INSTORE",
        actor=CLERK,
    )


def test_a_purchase_reaches_a_tier_by_the_points_it_earns_in_the_window_for_a_period(org):
    program, (silver, gold, _) = club(org, tier_period_months=6)
    EarningRuleFactory(program=program)  # a point per 1.00
    enrollment = member(program, silver, None)
    earned(enrollment, 900, timezone.now() - dt.timedelta(days=400))

    bought(enrollment, "till-1", unit_price="200.00")
    assert reloaded(enrollment).tier == silver  # 200 in the window, though 1,100 earned

    before = timezone.now()
    result = bought(enrollment, "till-2", unit_price="800.00")

    enrollment = reloaded(enrollment)
    assert [change.to_tier for change in result.tier_changes] == [gold]
    assert enrollment.tier == gold
    assert add_months(before, 6) <= enrollment.tier_expires_at <= add_months(timezone.now(), 6)
    assert changes(enrollment)[-1] == ("threshold", "Silver", "Gold", enrollment.tier_expires_at)


def test_a_return_that_takes_the_spend_in_the_window_below_the_tier_moves_it_down(org):
    program, (silver, gold, _) = club(org, basis="spend")
    enrollment = member(program, silver, None)
    purchase = bought(enrollment, "till-1", quantity=2, unit_price="600.00").transaction
    assert reloaded(enrollment).tier == gold

    return_record(
        organization=org,
        purchase=purchase,
        external_id="R-1",
        occurred_at=timezone.now(),
        lines=[{"sku": "COAT", "quantity": 1}],
        actor=CLERK,
    )

    assert reloaded(enrollment).tier == silver  # 600 of the 1,200 spent came back
    assert changes(enrollment)[-1] == ("return", "Gold", "Silver", None)


# --- the end of a tier period ------------------------------------------------------------------


def test_enough_in_the_window_renews_the_tier_and_moves_its_expiry(org):
    program, (_, gold, _) = club(org)
    enrollment = member(program, gold)
    earned(enrollment, 1000, END - dt.timedelta(days=200))

    assert tiers_renew_due(now=AFTER) == Renewals(renewed=1)

    enrollment = reloaded(enrollment)
    next_end = dt.datetime(2027, 6, 30, 12, 0, tzinfo=UTC)
    assert (enrollment.tier, enrollment.tier_expires_at) == (gold, next_end)
    assert changes(enrollment) == [("renewal", "Gold", "Gold", next_end)]
    event = AuditEvent.objects.get(customer=enrollment.customer, action="renewal")
    assert (event.subject, event.actor) == ("enrollment", str(SYSTEM))
    assert event.changes == {
        f"{program.name}: tier": ["Gold", "Gold"],
        f"{program.name}: tier expires": [END.isoformat(), next_end.isoformat()],
    }


def test_too_little_in_the_window_downgrades_to_the_tier_it_reaches(org):
    program, (_, _, platinum) = club(org)
    down_one = member(program, platinum)
    earned(down_one, 1500, END - dt.timedelta(days=10))
    earned(down_one, 9000, END - dt.timedelta(days=400))  # before the window
    down_all = member(program, platinum)

    assert tiers_renew_due(now=AFTER) == Renewals(downgraded=2)

    next_end = dt.datetime(2027, 6, 30, 12, 0, tzinfo=UTC)
    assert changes(down_one) == [("downgrade", "Platinum", "Gold", next_end)]
    # The lowest tier never expires.
    assert changes(down_all) == [("downgrade", "Platinum", "Silver", None)]
    assert AuditEvent.objects.filter(action="downgrade").count() == 2


def test_more_in_the_window_upgrades_at_the_end_of_the_period(org):
    program, (_, gold, _) = club(org)
    enrollment = member(program, gold)
    earned(enrollment, 5000, END - dt.timedelta(days=1))  # reached no tier at once

    assert tiers_renew_due(now=AFTER) == Renewals(upgraded=1)

    assert changes(enrollment) == [
        ("upgrade", "Gold", "Platinum", dt.datetime(2027, 6, 30, 12, 0, tzinfo=UTC))
    ]


def test_with_the_calendar_year_the_year_just_ended_decides_the_next_one(org):
    program, (_, gold, _) = club(org, window="calendar_year")
    new_year = dt.datetime(2027, 1, 1, tzinfo=UTC)
    kept, lost = member(program, gold, new_year), member(program, gold, new_year)
    earned(kept, 1000, dt.datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    earned(lost, 1000, new_year + TICK)  # the new year's: too late for this review

    tiers_renew_due(now=new_year + dt.timedelta(hours=2))

    assert changes(kept) == [("renewal", "Gold", "Gold", dt.datetime(2028, 1, 1, tzinfo=UTC))]
    assert changes(lost) == [("downgrade", "Gold", "Silver", None)]


def test_a_late_run_reviews_each_period_that_ended_as_a_punctual_one_would(org):
    program, (_, gold, _) = club(org)
    enrollment = member(program, gold)
    earned(enrollment, 1000, END - dt.timedelta(days=30))  # nothing in the next period

    tiers_renew_due(now=END + dt.timedelta(days=400))

    assert changes(enrollment) == [
        ("renewal", "Gold", "Gold", dt.datetime(2027, 6, 30, 12, 0, tzinfo=UTC)),
        ("downgrade", "Gold", "Silver", None),
    ]


def test_running_again_changes_nothing_more(org):
    program, (_, gold, platinum) = club(org)
    renewed, downgraded = member(program, gold), member(program, platinum)
    earned(renewed, 1000, END)

    first = tiers_renew_due(now=AFTER)
    rows = TierChange.objects.count()
    events = AuditEvent.objects.count()
    again = tiers_renew_due(now=AFTER + dt.timedelta(hours=1))

    assert (first, again) == (Renewals(renewed=1, downgraded=1), Renewals())
    assert (TierChange.objects.count(), AuditEvent.objects.count()) == (rows, events)
    assert reloaded(renewed).tier_expires_at > AFTER
    assert reloaded(downgraded).tier_expires_at is None


def test_only_expired_tiers_of_programmes_with_a_window_and_open_customers_are_reviewed(
    org, other_org
):
    program, (_, gold, _) = club(org)
    lifetime, (_, lifetime_gold, _) = club(org, window="lifetime")
    other, (_, other_gold, _) = club(other_org)
    due = member(program, gold)
    not_yet = member(program, gold, AFTER + dt.timedelta(days=1))
    never = member(lifetime, lifetime_gold)
    elsewhere = member(other, other_gold)
    erased = member(program, gold)
    erased.customer.erased_at = END
    erased.customer.save(update_fields=["erased_at"])

    assert tiers_renew_due(organization=org, now=AFTER) == Renewals(downgraded=1)

    assert reloaded(due).tier.name == "Silver"
    for untouched in (not_yet, never, elsewhere, erased):
        assert reloaded(untouched).tier.name == "Gold"
        assert not TierChange.objects.filter(enrollment=untouched).exists()


def test_the_review_reads_a_bounded_number_of_queries_per_enrolment(org):
    program, (_, gold, platinum) = club(org)
    for i in range(6):
        enrollment = member(program, platinum if i % 2 else gold)
        if i % 3:
            earned(enrollment, 1000 * (i % 3), END)

    with CaptureQueriesContext(connection) as captured:
        assert tiers_renew_due(now=AFTER, batch_size=2) == Renewals(renewed=2, downgraded=4)

    # Each enrolment: its savepoint, lock, figure (what was earned, less what returns took back)
    # and change (the enrolment, the audit row, the history row). Once: the programme's tiers;
    # the ids, a batch at a time, till none is left.
    per_enrollment, batches = 8, 3
    assert len(captured) <= 6 * per_enrollment + 1 + batches + 1


def test_the_daily_task_reviews_the_tiers_due(org):
    program, (_, gold, _) = club(org)
    enrollment = member(program, gold, timezone.now() - dt.timedelta(days=1))

    tiers_renew_task.apply().get()

    assert changes(enrollment)[0][:3] == ("downgrade", "Gold", "Silver")


# --- a tier set by staff -----------------------------------------------------------------------


def test_a_tier_set_by_staff_is_a_floor_until_its_expiry_then_the_rules_apply(org):
    program, (silver, gold, platinum) = club(org)
    enrollment = member(program, silver, None)
    floor_until = dt.datetime(2026, 12, 31, tzinfo=UTC)
    tier_set(
        organization=org,
        enrollment=enrollment,
        tier_number=2,
        tier_expires_at=floor_until,
        actor=CLERK,
    )
    # Platinum reached meanwhile, for a period that ends before the floor does.
    locked = reloaded(enrollment)
    change_tier(locked, platinum, END, TierChangeReason.THRESHOLD, CLERK)

    tiers_renew_due(now=AFTER)  # nothing earned: down, but only to the floor, until it ends

    enrollment = reloaded(enrollment)
    assert (enrollment.tier, enrollment.tier_expires_at) == (gold, floor_until)

    tiers_renew_due(now=floor_until + dt.timedelta(days=1))

    assert changes(enrollment)[-2:] == [
        ("downgrade", "Platinum", "Gold", floor_until),
        ("downgrade", "Gold", "Silver", None),
    ]


def test_a_floor_does_not_hold_back_an_upgrade(org):
    program, (_, gold, platinum) = club(org)
    enrollment = member(program, gold)
    tier_floor_set(reloaded(enrollment), gold, None)
    earned(enrollment, 5000, END)

    tiers_renew_due(now=AFTER)

    assert reloaded(enrollment).tier == platinum


def test_a_tier_given_at_enrolment_without_an_expiry_is_a_floor_for_good(org):
    program, (_, gold, platinum) = club(org)
    enrollment = enrollment_create(
        organization=org,
        customer=CustomerFactory(organization=org),
        program=program,
        tier_number=2,
        actor=CLERK,
    ).enrollment
    # Platinum reached since, for a period that ended with nothing earned.
    change_tier(reloaded(enrollment), platinum, END, TierChangeReason.THRESHOLD, CLERK)

    tiers_renew_due(now=AFTER)

    enrollment = reloaded(enrollment)
    assert (enrollment.tier, enrollment.tier_expires_at, enrollment.tier_floor) == (
        gold,
        None,
        gold,
    )
    assert changes(enrollment)[-1] == ("downgrade", "Platinum", "Gold", None)


def test_the_renew_tiers_command_reports_and_changes_nothing_the_second_time(org, other_org):
    program, (_, gold, _) = club(org)
    member(program, gold, timezone.now() - dt.timedelta(days=1))
    other, (_, other_gold, _) = club(other_org)
    elsewhere = member(other, other_gold, timezone.now() - dt.timedelta(days=1))

    def run(*args):
        out = io.StringIO()
        call_command("renew_tiers", *args, stdout=out)
        return out.getvalue().strip()

    assert run("--org", org.slug) == "Tier periods ended: 0 renewed, 0 upgraded, 1 downgraded."
    assert reloaded(elsewhere).tier == other_gold
    assert run("--org", org.slug) == "Tier periods ended: 0 renewed, 0 upgraded, 0 downgraded."
    with pytest.raises(CommandError, match="No organization"):
        run("--org", "nobody")
