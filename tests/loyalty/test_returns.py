"""Returns of purchases: what they check, record and take back, under each clawback policy."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from crm.actors import Actor
from crm.errors import ErrorCode
from customers.services.update import customer_delete
from loyalty.models import Enrollment, PointsLot, PointsTransaction
from loyalty.returns import Clawback, Return
from loyalty.services.earning_rules import earning_rule_create, earning_rule_update
from loyalty.services.points import points_award, points_deduct
from loyalty.services.purchases import transaction_record
from loyalty.services.returns import return_record
from loyalty.tiers import TierChange
from loyalty.transactions import Transaction, TransactionLine
from tests.assertions import refused
from tests.customers.factories import CustomerFactory, StatusLabelFactory
from tests.loyalty.factories import EnrollmentFactory, TierFactory

pytestmark = pytest.mark.django_db
TILL = Actor("api_key", "1 till")
SHOES = {"sku": "RUN-1", "category": "shoes", "quantity": 2, "unit_price": "50.00"}
SOCKS = {"sku": "SOCK", "category": "socks", "quantity": 3, "unit_price": "10.00"}


def make_rule(program, kind, name="Rule", **parameters):
    return earning_rule_create(
        program=program,
        name=name,
        kind=kind,
        parameters=parameters,
        priority=100,
        active_from=None,
        active_until=None,
    )


def buy(enrollment, external_id="T-1", lines=(SHOES,), days_ago=1):
    return transaction_record(
        organization=enrollment.customer.organization,
        customer=enrollment.customer,
        store_code=None,
        external_id=external_id,
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
        currency="EUR",
        lines=list(lines),
        channel="INSTORE",
        actor=TILL,
    )


def give_back(purchase, external_id="R-1", **what):
    return return_record(
        organization=purchase.organization,
        purchase=Transaction.objects.select_related("customer").get(pk=purchase.pk),
        external_id=external_id,
        occurred_at=timezone.now(),
        actor=TILL,
        **what,
    )


def totals(enrollment):
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    ledger = PointsTransaction.objects.filter(enrollment=enrollment).aggregate(s=Sum("points"))
    lots = PointsLot.objects.filter(enrollment=enrollment)
    spendable = lots.filter(pending_until__isnull=True).aggregate(s=Sum("remaining"))["s"] or 0
    pending = lots.filter(pending_until__isnull=False).aggregate(s=Sum("remaining"))["s"] or 0
    # The invariants: the ledger is the balance plus the pending points, each held by its lots.
    assert (ledger["s"] or 0) == enrollment.points_balance + enrollment.points_pending
    assert spendable == max(enrollment.points_balance, 0)
    assert pending == enrollment.points_pending
    return enrollment.points_balance, enrollment.points_pending, enrollment.points_earned


@pytest.fixture
def enrollment(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    make_rule(enrollment.program, "base_rate", name="Base", points=1, per="1", rounding="down")
    return enrollment


def use_policy(enrollment, policy, pending_days=0):
    program = enrollment.program
    program.clawback_policy, program.pending_days = policy, pending_days
    program.save()


def spend(enrollment, points):
    points_deduct(
        organization=enrollment.customer.organization,
        enrollment=enrollment,
        points=points,
        actor=TILL,
    )


# --- the policies ---------------------------------------------------------------------------------


def test_within_balance_takes_what_is_there_and_records_the_shortfall(org, enrollment):
    purchase = buy(enrollment).transaction
    spend(enrollment, 70)

    result = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])

    [program] = result.programs
    assert (program.points, program.clawed_back, program.cancelled, program.shortfall) == (
        50,
        30,
        0,
        20,
    )
    [row] = PointsTransaction.objects.filter(kind="clawback")
    assert (row.points, row.rule.name, row.purchase, row.purchase_return) == (
        -30,
        "Base",
        purchase,
        result.purchase_return,
    )
    assert totals(enrollment) == (0, 0, 50)


def test_allow_negative_takes_it_all_and_later_points_repay_the_debt(org, enrollment):
    use_policy(enrollment, "allow_negative")
    purchase = buy(enrollment).transaction
    spend(enrollment, 70)

    result = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])

    assert (result.programs[0].clawed_back, result.programs[0].shortfall) == (50, 0)
    assert totals(enrollment) == (-20, 0, 50)
    with refused(ErrorCode.INSUFFICIENT_POINTS, "points"):
        spend(enrollment, 1)

    points_award(organization=org, enrollment=enrollment, points=25, actor=TILL)
    assert totals(enrollment) == (5, 0, 75)
    assert PointsLot.objects.get(award__points=25).remaining == 5  # 20 repaid the debt
    buy(enrollment, "T-2", lines=[{"sku": "CAP", "quantity": 1, "unit_price": "10.00"}])
    assert totals(enrollment) == (15, 0, 85)
    spend(enrollment, 15)
    assert totals(enrollment) == (0, 0, 85)


def test_pending_only_takes_back_nothing_once_the_points_are_spendable(org, enrollment):
    use_policy(enrollment, "pending_only")
    purchase = buy(enrollment).transaction

    result = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])

    assert (result.programs[0].points, result.programs[0].shortfall) == (50, 50)
    assert not PointsTransaction.objects.filter(kind__in=["clawback", "cancel"]).exists()
    [clawback] = Clawback.objects.all()
    assert (clawback.points, clawback.row) == (50, None)
    # The points are spendable still, but no longer count as earned.
    assert totals(enrollment) == (100, 0, 50)


@pytest.mark.parametrize("policy", ["within_balance", "allow_negative", "pending_only"])
def test_a_return_inside_the_window_cancels_the_pending_points_in_every_policy(
    org, enrollment, policy
):
    use_policy(enrollment, policy, pending_days=30)
    purchase = buy(enrollment).transaction
    assert totals(enrollment) == (0, 100, 100)

    result = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])

    assert (result.programs[0].cancelled, result.programs[0].shortfall) == (50, 0)
    [row] = PointsTransaction.objects.filter(kind="cancel")
    assert (row.points, row.purchase_return) == (-50, result.purchase_return)
    assert totals(enrollment) == (0, 50, 50)


def test_the_award_that_earned_is_taken_from_first(org, enrollment):
    points_award(organization=org, enrollment=enrollment, points=10, actor=TILL)
    purchase = buy(enrollment).transaction

    give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 2}])

    remaining = dict(PointsLot.objects.values_list("award__points", "remaining"))
    assert remaining == {10: 10, 100: 0}


# --- what comes back of each rule -----------------------------------------------------------------


def test_a_multiplier_comes_back_with_the_lines_it_counted(org, enrollment):
    make_rule(
        enrollment.program, "category_multiplier", name="Shoes x2", category="shoes", multiplier="2"
    )
    purchase = buy(enrollment, lines=[SHOES, SOCKS]).transaction  # 130 base, 100 for the shoes

    socks = give_back(purchase, lines=[{"sku": "SOCK", "quantity": 3}])
    shoe = give_back(purchase, "R-2", lines=[{"sku": "RUN-1", "quantity": 1}])

    def by_rule(result):
        return {c.award.rule.name: c.points for c in result.programs[0].clawbacks}

    assert by_rule(socks) == {"Base": 30}
    assert by_rule(shoe) == {"Base": 50, "Shoes x2": 50}
    assert totals(enrollment) == (100, 0, 100)  # 230 earned, 130 back


def test_an_amount_comes_back_in_proportion_from_every_rule(org, enrollment):
    make_rule(
        enrollment.program, "category_multiplier", name="Shoes x2", category="shoes", multiplier="2"
    )
    purchase = buy(enrollment, lines=[SHOES, SOCKS]).transaction

    result = give_back(purchase, amount="65.00")  # half of 130.00

    assert {c.award.rule.name: c.points for c in result.programs[0].clawbacks} == {
        "Base": 65,
        "Shoes x2": 50,
    }
    assert Return.objects.get().amount == Decimal("65.00")
    assert Transaction.objects.get().returned_amount == Decimal("65.00")


def test_a_bonus_is_kept_until_everything_is_returned(org, enrollment):
    make_rule(enrollment.program, "first_purchase_bonus", name="Welcome", points=30)
    purchase = buy(enrollment).transaction

    first = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])
    last = give_back(purchase, "R-2", lines=[{"sku": "RUN-1", "quantity": 1}])

    assert {c.award.rule.name: c.points for c in first.programs[0].clawbacks} == {"Base": 50}
    assert {c.award.rule.name: c.points for c in last.programs[0].clawbacks} == {
        "Base": 50,
        "Welcome": 30,
    }
    assert totals(enrollment) == (0, 0, 0)


def test_partial_returns_together_take_back_exactly_what_was_earned(org, enrollment):
    purchase = buy(enrollment, lines=[{"sku": "PEN", "quantity": 3, "unit_price": "3.33"}])
    purchase = purchase.transaction  # 9.99 earns 9 points

    taken = [
        give_back(purchase, f"R-{i}", lines=[{"sku": "PEN", "quantity": 1}]).programs[0].points
        for i in range(3)
    ]

    assert sum(taken) == 9
    assert sorted(taken) == [3, 3, 3]
    amounts = Return.objects.order_by("pk").values_list("amount", flat=True)
    assert sum(amounts) == Decimal("9.99")


def test_a_rule_changed_since_the_purchase_takes_back_what_it_counted_then(org, enrollment):
    rule = make_rule(
        enrollment.program, "sku_multiplier", name="Socks x3", sku="SOCK", multiplier="3"
    )
    purchase = buy(enrollment, lines=[SHOES, SOCKS]).transaction
    earning_rule_update(
        rule=rule,
        name="Socks x3",
        kind="sku_multiplier",
        parameters={"sku": "RUN-1", "multiplier": "3"},
        priority=100,
        active_from=None,
        active_until=None,
    )

    result = give_back(purchase, lines=[{"sku": "SOCK", "quantity": 3}])

    assert {c.award.rule.name: c.points for c in result.programs[0].clawbacks} == {
        "Base": 30,
        "Socks x3": 60,
    }


# --- never more than was bought -------------------------------------------------------------------


def test_more_units_than_are_left_are_refused(org, enrollment):
    purchase = buy(enrollment).transaction
    give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])

    with refused(ErrorCode.RETURN_EXCEEDS_PURCHASE, "lines[0].quantity"):
        give_back(purchase, "R-2", lines=[{"sku": "RUN-1", "quantity": 2}])
    assert Return.objects.count() == 1
    assert TransactionLine.objects.get().returned_quantity == 1


def test_more_than_the_amount_left_is_refused(org, enrollment):
    purchase = buy(enrollment).transaction
    give_back(purchase, amount="60.00")

    with refused(ErrorCode.RETURN_EXCEEDS_PURCHASE, "amount"):
        give_back(purchase, "R-2", amount="40.01")
    with refused(ErrorCode.RETURN_EXCEEDS_PURCHASE, "lines"):
        give_back(purchase, "R-3", lines=[{"sku": "RUN-1", "quantity": 1}])
    assert give_back(purchase, "R-4", amount="40.00").created
    assert Transaction.objects.get().returned_amount == Decimal("100.00")


def test_the_database_holds_that_no_more_is_returned_than_was_bought(org, enrollment):
    purchase = buy(enrollment).transaction
    with pytest.raises(IntegrityError), transaction.atomic():
        TransactionLine.objects.filter(transaction=purchase).update(returned_quantity=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.filter(pk=purchase.pk).update(returned_amount=Decimal("100.01"))


@pytest.mark.parametrize(
    ("what", "code", "field"),
    [
        ({}, ErrorCode.INVALID, "lines"),
        ({"lines": [{"sku": "RUN-1", "quantity": 1}], "amount": "1"}, ErrorCode.INVALID, "lines"),
        ({"lines": []}, ErrorCode.INVALID, "lines"),
        ({"lines": [{"sku": "HAT", "quantity": 1}]}, ErrorCode.SKU_UNKNOWN, "lines[0].sku"),
        ({"lines": [{"sku": "RUN-1", "quantity": 0}]}, ErrorCode.INVALID, "lines[0].quantity"),
        ({"lines": [{"sku": "RUN-1"}]}, ErrorCode.REQUIRED, "lines[0].quantity"),
        ({"lines": [{"quantity": 1}]}, ErrorCode.REQUIRED, "lines[0].sku"),
        (
            {"lines": [{"sku": "RUN-1", "quantity": 1}, {"sku": "RUN-1", "quantity": 1}]},
            ErrorCode.INVALID,
            "lines[1].sku",
        ),
        ({"amount": "0"}, ErrorCode.AMOUNT_INVALID, "amount"),
        ({"amount": "1.001"}, ErrorCode.INVALID, "amount"),
        ({"amount": "-1"}, ErrorCode.AMOUNT_INVALID, "amount"),
        ({"amount": "100.01"}, ErrorCode.RETURN_EXCEEDS_PURCHASE, "amount"),
    ],
)
def test_what_is_wrong_is_named(org, enrollment, what, code, field):
    purchase = buy(enrollment).transaction
    with refused(code, field):
        give_back(purchase, **what)
    assert not Return.objects.exists()


# --- recorded once --------------------------------------------------------------------------------


def test_the_same_return_again_answers_as_first_and_takes_nothing_more(org, enrollment):
    purchase = buy(enrollment).transaction
    first = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 1}])

    again = give_back(purchase, lines=[{"sku": "RUN-1", "quantity": 2}])

    assert (first.created, again.created) == (True, False)
    assert again.purchase_return.pk == first.purchase_return.pk
    assert [c.pk for c in again.programs[0].clawbacks] == [
        c.pk for c in first.programs[0].clawbacks
    ]
    assert PointsTransaction.objects.filter(kind="clawback").count() == 1
    assert totals(enrollment) == (50, 0, 50)


def test_a_return_id_used_for_another_purchase_is_refused(org, enrollment):
    first = buy(enrollment).transaction
    second = buy(enrollment, "T-2").transaction
    give_back(first, amount="1.00")
    with refused(ErrorCode.EXTERNAL_ID_TAKEN, "external_id"):
        give_back(second, amount="1.00")


# --- the tier -------------------------------------------------------------------------------------


def test_a_tier_the_returned_points_had_reached_is_lost(org, enrollment):
    TierFactory(program=enrollment.program, number=1, name="Silver")
    gold = TierFactory(program=enrollment.program, number=2, name="Gold", points_threshold=500)
    platinum = TierFactory(program=enrollment.program, number=3, points_threshold=1000)
    buy(enrollment, "T-0", lines=[{"sku": "BAG", "quantity": 1, "unit_price": "600.00"}])
    purchase = buy(enrollment, lines=[{"sku": "TV", "quantity": 1, "unit_price": "500.00"}])
    assert purchase.tier_changes[0].to_tier == platinum

    result = give_back(purchase.transaction, lines=[{"sku": "TV", "quantity": 1}])

    [change] = result.tier_changes
    assert (change.from_tier, change.to_tier, change.reason) == (platinum, gold, "return")
    assert (change.purchase, change.purchase_return) == (
        purchase.transaction,
        result.purchase_return,
    )
    assert [effect.to_tier for effect in result.side_effects] == [2]
    assert Enrollment.objects.get(pk=enrollment.pk).tier == gold


def test_a_tier_set_by_staff_below_its_threshold_stays(org, enrollment):
    TierFactory(program=enrollment.program, number=1, name="Silver")
    gold = TierFactory(program=enrollment.program, number=2, name="Gold", points_threshold=500)
    enrollment.tier = gold
    enrollment.save()
    purchase = buy(enrollment).transaction

    assert give_back(purchase, amount="100.00").tier_changes == []
    assert not TierChange.objects.filter(reason="return").exists()


# --- who may return -------------------------------------------------------------------------------


def test_a_customer_who_may_not_earn_still_has_returns_taken_back(org, enrollment):
    purchase = buy(enrollment).transaction
    label = StatusLabelFactory(organization=org, name="Fraud", status="fraud_confirmed")
    label.may_earn = label.may_spend = False
    label.save()
    enrollment.customer.status_label = label
    enrollment.customer.save()

    result = give_back(purchase, amount="100.00")

    assert result.programs[0].clawed_back == 100
    assert totals(enrollment) == (0, 0, 0)


def test_an_erased_customers_purchase_takes_no_return(org, enrollment):
    purchase = buy(enrollment).transaction
    customer = enrollment.customer
    customer.erased_at = timezone.now()
    customer.save()
    with refused(ErrorCode.CUSTOMER_CLOSED, "customer"):
        give_back(purchase, amount="1.00")


def test_deleting_a_customer_deletes_their_returns_too(org, enrollment):
    purchase = buy(enrollment).transaction
    give_back(purchase, amount="10.00")

    customer_delete(customer=enrollment.customer, actor=TILL)

    assert not Return.objects.exists()
    assert not PointsTransaction.objects.exists()


def test_another_organizations_purchase_is_not_found(org, enrollment, other_org):
    theirs = buy(EnrollmentFactory(customer=CustomerFactory(organization=other_org))).transaction
    with refused(ErrorCode.NOT_FOUND, "transaction"):
        return_record(
            organization=org,
            purchase=theirs,
            external_id="R-1",
            occurred_at=timezone.now(),
            amount="1.00",
            actor=TILL,
        )
