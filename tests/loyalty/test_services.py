import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum

from crm.actors import Actor
from crm.errors import ErrorCode
from loyalty.models import PointsTransaction, StampTransaction
from loyalty.services.enrolments import enrollment_create, tier_set
from loyalty.services.points import points_award, points_deduct
from loyalty.services.stamps import MAX_STAMPS_PER_CALL, card_enroll, reward_redeem, stamps_add
from tests.assertions import refused
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    ProgramFactory,
    RewardFactory,
    StampCardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db
CLERK = Actor("staff", "7 clerk")


# --- enrolments and tiers ----------------------------------------------------------------------


def test_enrolment_defaults_to_the_lowest_tier(org):
    program = ProgramFactory(organization=org)
    TierFactory(program=program, number=2)
    lowest = TierFactory(program=program, number=1)
    customer = CustomerFactory(organization=org)
    result = enrollment_create(organization=org, customer=customer, program=program, actor=CLERK)
    assert result.enrollment.tier == lowest
    assert result.side_effects == []


def test_enrolment_in_an_inactive_programme_is_refused(org):
    program = ProgramFactory(organization=org, active=False)
    with refused(ErrorCode.INACTIVE):
        enrollment_create(
            organization=org,
            customer=CustomerFactory(organization=org),
            program=program,
            actor=CLERK,
        )


def test_another_organizations_customer_or_programme_is_not_found(org, other_org):
    program = ProgramFactory(organization=other_org)
    with refused(ErrorCode.NOT_FOUND, "program"):
        enrollment_create(
            organization=org,
            customer=CustomerFactory(organization=org),
            program=program,
            actor=CLERK,
        )


def test_tier_set(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    gold = TierFactory(program=enrollment.program, number=2)
    tier_set(organization=org, enrollment=enrollment, tier_number=2, actor=CLERK)
    enrollment.refresh_from_db()
    assert enrollment.tier == gold
    with refused(ErrorCode.TIER_UNKNOWN, "tier_number"):
        tier_set(organization=org, enrollment=enrollment, tier_number=5, actor=CLERK)


# --- points ------------------------------------------------------------------------------------


def ledger_sum(enrollment):
    return PointsTransaction.objects.filter(enrollment=enrollment).aggregate(s=Sum("points"))["s"]


def test_award_and_deduct_keep_balance_equal_to_ledger(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    points_award(
        organization=org, enrollment=enrollment, points=100, reason="purchase", actor=CLERK
    )
    row = points_deduct(
        organization=org, enrollment=enrollment, points=30, reason="gift", actor=CLERK
    ).transaction
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 70 == ledger_sum(enrollment)
    assert (row.kind, row.points, row.actor) == ("deduct", -30, "staff:7 clerk")


def test_balance_never_goes_negative(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    points_award(organization=org, enrollment=enrollment, points=10, actor=CLERK)
    with refused(ErrorCode.INSUFFICIENT_POINTS, "points"):
        points_deduct(organization=org, enrollment=enrollment, points=11, actor=CLERK)
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 10


@pytest.mark.parametrize("points", [0, -5])
def test_points_must_be_positive(org, points):
    enrollment = EnrollmentFactory(customer__organization=org)
    with refused(ErrorCode.AMOUNT_INVALID, "points"):
        points_award(organization=org, enrollment=enrollment, points=points, actor=CLERK)


def test_a_reference_is_paid_once(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    points_award(
        organization=org, enrollment=enrollment, points=10, reference="order-1", actor=CLERK
    )
    with refused(ErrorCode.DUPLICATE_REFERENCE, "reference"):
        points_award(
            organization=org, enrollment=enrollment, points=10, reference="order-1", actor=CLERK
        )
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 10


def test_points_of_another_organization_are_not_found(org, other_org):
    enrollment = EnrollmentFactory(customer__organization=other_org)
    with refused(ErrorCode.NOT_FOUND):
        points_award(organization=org, enrollment=enrollment, points=10, actor=CLERK)
    assert not PointsTransaction.objects.exists()


# --- stamp cards -------------------------------------------------------------------------------


def test_card_enrolment_issues_a_code_and_welcome_stamps(org):
    stamp_card = StampCardFactory(organization=org, initial_stamps=3)
    customer = CustomerFactory(organization=org)
    card = card_enroll(organization=org, customer=customer, stamp_card=stamp_card, actor=CLERK).card
    other = card_enroll(
        organization=org,
        customer=CustomerFactory(organization=org),
        stamp_card=stamp_card,
        actor=CLERK,
    ).card
    assert card.stamps == 3
    assert len(card.code) == 14
    assert card.code != other.code
    with refused(ErrorCode.ALREADY_ENROLLED):
        card_enroll(organization=org, customer=customer, stamp_card=stamp_card, actor=CLERK)


def test_stamps_add_within_bounds(org):
    card = CustomerCardFactory(customer__organization=org)
    stamps_add(organization=org, card=card, stamps=2, reason="visit", actor=CLERK)
    assert card.stamps == 2
    for stamps in (0, MAX_STAMPS_PER_CALL + 1):
        with refused(ErrorCode.AMOUNT_INVALID, "stamps"):
            stamps_add(organization=org, card=card, stamps=stamps, actor=CLERK)


def test_inactive_card_or_template_refuses_stamps(org):
    inactive_card = CustomerCardFactory(customer__organization=org, status="inactive")
    inactive_template = CustomerCardFactory(customer__organization=org, stamp_card__active=False)
    for card in (inactive_card, inactive_template):
        with refused(ErrorCode.INACTIVE, "card"):
            stamps_add(organization=org, card=card, stamps=1, actor=CLERK)


def test_another_organizations_card_is_refused(org, other_org):
    card = CustomerCardFactory(customer__organization=other_org)
    with refused(ErrorCode.NOT_FOUND, "card"):
        stamps_add(organization=org, card=card, stamps=1, actor=CLERK)
    card.refresh_from_db()
    assert card.stamps == 0


def test_redeem_deducts_the_rewards_cost(org):
    card = CustomerCardFactory(customer__organization=org)
    reward = RewardFactory(stamp_card=card.stamp_card, stamp_cost=5)
    stamps_add(organization=org, card=card, stamps=7, actor=CLERK)
    row = reward_redeem(organization=org, card=card, reward=reward, actor=CLERK).transaction
    assert (card.stamps, row.stamps, row.reward) == (2, -5, reward)
    with refused(ErrorCode.INSUFFICIENT_STAMPS, "reward"):
        reward_redeem(organization=org, card=card, reward=reward, actor=CLERK)


def test_inactive_or_foreign_reward_is_refused(org):
    card = CustomerCardFactory(customer__organization=org)
    stamps_add(organization=org, card=card, stamps=10, actor=CLERK)
    with refused(ErrorCode.INACTIVE, "reward"):
        reward_redeem(
            organization=org,
            card=card,
            reward=RewardFactory(stamp_card=card.stamp_card, active=False),
            actor=CLERK,
        )
    with refused(ErrorCode.REWARD_UNKNOWN, "reward"):
        reward_redeem(
            organization=org,
            card=card,
            reward=RewardFactory(stamp_card__organization=org),
            actor=CLERK,
        )


def test_card_state_can_be_rebuilt_from_its_ledger(org):
    stamp_card = StampCardFactory(organization=org, initial_stamps=1)
    reward = RewardFactory(stamp_card=stamp_card, stamp_cost=4)
    card = card_enroll(
        organization=org,
        customer=CustomerFactory(organization=org),
        stamp_card=stamp_card,
        actor=CLERK,
    ).card
    for stamps in (3, 2, 5):
        stamps_add(organization=org, card=card, stamps=stamps, actor=CLERK)
        if card.stamps >= reward.stamp_cost:
            reward_redeem(organization=org, card=card, reward=reward, actor=CLERK)
    card.refresh_from_db()
    ledger = StampTransaction.objects.filter(card=card)
    assert card.stamps == ledger.aggregate(s=Sum("stamps"))["s"] == 3
    assert list(ledger.values_list("kind", flat=True)) == [
        "add",
        "add",
        "redeem",
        "add",
        "add",
        "redeem",
    ]


# --- ledgers are append-only -------------------------------------------------------------------


def test_ledger_rows_cannot_be_updated(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    points_award(organization=org, enrollment=enrollment, points=10, actor=CLERK)
    card = CustomerCardFactory(customer__organization=org)
    stamps_add(organization=org, card=card, stamps=1, actor=CLERK)
    for ledger, change in [
        (PointsTransaction, {"points": 1000}),
        (StampTransaction, {"stamps": 9}),
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            ledger.objects.update(**change)
    assert PointsTransaction.objects.get().points == 10
    assert StampTransaction.objects.get().stamps == 1


def test_ledger_rows_must_match_their_kind(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    for kind, points in [("award", -5), ("deduct", 5), ("award", 0)]:
        with pytest.raises(IntegrityError), transaction.atomic():
            PointsTransaction.objects.create(enrollment=enrollment, kind=kind, points=points)
    card = CustomerCardFactory(customer__organization=org)
    with pytest.raises(IntegrityError), transaction.atomic():
        StampTransaction.objects.create(card=card, kind="redeem", stamps=-5)


def test_running_totals_cannot_go_negative(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    card = CustomerCardFactory(customer__organization=org)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(enrollment).objects.filter(pk=enrollment.pk).update(points_pending=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(card).objects.filter(pk=card.pk).update(stamps=-1)
