"""Welcome offers, coupons, referrals, tiers that follow points, and the side effects reported."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.actors import Actor
from crm.errors import ErrorCode
from customers.inputs import CustomerInput, EnrollmentInput
from customers.membership.registration import customer_register
from loyalty.models import Coupon, CouponSeries
from loyalty.selectors import card_view
from loyalty.services.coupons import coupon_issue, coupon_redeem
from loyalty.services.enrolments import enrollment_create, tier_set
from loyalty.services.points import points_award
from loyalty.services.stamps import stamps_add
from loyalty.side_effects import CouponIssued, PointsAwarded, RewardEarned, StampsAdded, TierChanged
from loyalty.tiers import TierChange
from tests.assertions import refused
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    ProgramFactory,
    RewardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db
CLERK = Actor("staff", "7 clerk")


def series_for(org, **fields):
    return CouponSeries.objects.create(
        organization=org, description="Welcome Offer - 10% flat discount", **fields
    )


# --- welcome offers ----------------------------------------------------------------------------


def test_a_new_enrolment_receives_welcome_points_and_coupon(org):
    series = series_for(org, valid_days=30)
    program = ProgramFactory(organization=org, welcome_points=200, welcome_coupon_series=series)
    customer = CustomerFactory(organization=org)

    result = enrollment_create(
        organization=org, customer=customer, program=program, points=75, actor=CLERK
    )

    assert result.enrollment.points_balance == 275
    coupon = Coupon.objects.get(customer=customer)
    assert coupon.series == series
    assert coupon.valid_till.date() == (coupon.issued_at + dt.timedelta(days=30)).date()
    assert (coupon.valid_till.hour, coupon.valid_till.minute) == (23, 59)
    assert result.side_effects == [
        PointsAwarded(customer.public_id, program.pk, 75, "Points at enrolment"),
        PointsAwarded(customer.public_id, program.pk, 200, "Welcome points"),
        CouponIssued(
            coupon_id=coupon.pk,
            code=coupon.code,
            description=series.description,
            discount_code="NO_VALUE",
            valid_till=coupon.valid_till,
        ),
    ]


def test_registration_reports_the_welcome_offers(org):
    program = ProgramFactory(
        organization=org, welcome_points=100, welcome_coupon_series=series_for(org)
    )
    result = customer_register(
        organization=org,
        data=CustomerInput(email="new@example.com", enrollments=[EnrollmentInput(program.pk)]),
    )
    assert [effect.type for effect in result.side_effects] == ["points", "coupon"]


# --- coupons -----------------------------------------------------------------------------------


def test_coupon_codes_are_unique_and_redeemed_once(org):
    series = series_for(org)
    customer = CustomerFactory(organization=org)
    coupons = [
        coupon_issue(organization=org, series=series, customer=customer, actor=CLERK).coupon
        for _ in range(20)
    ]
    assert len({coupon.code for coupon in coupons}) == 20
    redeemed = coupon_redeem(organization=org, code=coupons[0].code.lower(), actor=CLERK)
    assert redeemed.redeemed_at is not None
    with refused(ErrorCode.COUPON_REDEEMED, "code"):
        coupon_redeem(organization=org, code=coupons[0].code, actor=CLERK)


def test_an_expired_coupon_is_refused(org):
    coupon = coupon_issue(
        organization=org,
        series=series_for(org, valid_days=1),
        customer=CustomerFactory(organization=org),
        actor=CLERK,
    ).coupon
    Coupon.objects.filter(pk=coupon.pk).update(valid_till=timezone.now() - dt.timedelta(hours=1))
    with refused(ErrorCode.COUPON_EXPIRED, "code"):
        coupon_redeem(organization=org, code=coupon.code, actor=CLERK)


def test_another_organizations_coupon_is_unknown(org, other_org):
    coupon = coupon_issue(
        organization=other_org,
        series=series_for(other_org),
        customer=CustomerFactory(organization=other_org),
        actor=CLERK,
    ).coupon
    with refused(ErrorCode.COUPON_UNKNOWN, "code"):
        coupon_redeem(organization=org, code=coupon.code, actor=CLERK)


def test_an_inactive_or_ended_series_issues_nothing(org):
    customer = CustomerFactory(organization=org)
    for series in (
        series_for(org, active=False),
        series_for(org, valid_until=timezone.now() - dt.timedelta(days=1)),
    ):
        with refused(ErrorCode.INACTIVE, "series"):
            coupon_issue(organization=org, series=series, customer=customer, actor=CLERK)


def test_a_coupon_is_never_valid_beyond_its_series(org):
    ends = timezone.now() + dt.timedelta(days=2)
    coupon = coupon_issue(
        organization=org,
        series=series_for(org, valid_days=30, valid_until=ends),
        customer=CustomerFactory(organization=org),
        actor=CLERK,
    ).coupon
    assert coupon.valid_till == ends


# --- referrals ---------------------------------------------------------------------------------


def register_referred(org, program, referral_code, email="referee@example.com"):
    return customer_register(
        organization=org,
        data=CustomerInput(
            email=email, referral_code=referral_code, enrollments=[EnrollmentInput(program.pk)]
        ),
    )


def test_referral_awards_both_sides(org):
    program = ProgramFactory(organization=org, referrer_points=50, referee_points=20)
    referrer = EnrollmentFactory(customer__organization=org, program=program).customer

    result = register_referred(org, program, referrer.referral_code)

    referee = result.customer
    assert referee.referred_by == referrer
    assert referee.enrollments.get().points_balance == 20
    assert referrer.enrollments.get().points_balance == 50
    assert result.side_effects == [
        PointsAwarded(referee.public_id, program.pk, 20, "Referral"),
        PointsAwarded(referrer.public_id, program.pk, 50, "Referral"),
    ]


@pytest.mark.parametrize(("referrer_points", "referee_points"), [(0, 20), (50, 0)])
def test_referral_awards_only_the_side_the_programme_rewards(org, referrer_points, referee_points):
    program = ProgramFactory(
        organization=org, referrer_points=referrer_points, referee_points=referee_points
    )
    referrer = EnrollmentFactory(customer__organization=org, program=program).customer
    referee = register_referred(org, program, referrer.referral_code).customer
    assert referrer.enrollments.get().points_balance == referrer_points
    assert referee.enrollments.get().points_balance == referee_points


def test_a_referrer_outside_the_programme_gets_nothing(org):
    program = ProgramFactory(organization=org, referrer_points=50, referee_points=20)
    referrer = CustomerFactory(organization=org)
    referee = register_referred(org, program, referrer.referral_code).customer
    assert referee.enrollments.get().points_balance == 20
    assert not referrer.enrollments.exists()


# --- tiers -------------------------------------------------------------------------------------


def test_points_thresholds_move_a_member_up_and_never_down(org):
    program = ProgramFactory(organization=org)
    silver = TierFactory(program=program, number=1, name="Silver")
    TierFactory(program=program, number=2, name="Gold", points_threshold=500)
    platinum = TierFactory(program=program, number=3, name="Platinum", points_threshold=1000)
    enrollment = enrollment_create(
        organization=org,
        customer=CustomerFactory(organization=org),
        program=program,
        actor=CLERK,
    ).enrollment
    assert enrollment.tier == silver

    def award(points):
        return points_award(
            organization=org, enrollment=enrollment, points=points, actor=CLERK
        ).side_effects

    assert [e.type for e in award(400)] == ["points"]
    assert award(700)[1] == TierChanged(program.pk, 1, 3, "Platinum")
    enrollment.refresh_from_db()
    assert enrollment.tier == platinum
    changes = TierChange.objects.filter(enrollment=enrollment).order_by("pk")
    assert [(c.reason, c.to_tier.name) for c in changes] == [
        ("enrolment", "Silver"),
        ("threshold", "Platinum"),
    ]


def test_setting_a_tier_is_recorded_with_its_expiry(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    TierFactory(program=enrollment.program, number=1)
    gold = TierFactory(program=enrollment.program, number=2, name="Gold")
    expires = timezone.now() + dt.timedelta(days=365)
    result = tier_set(
        organization=org,
        enrollment=enrollment,
        tier_number=2,
        tier_expires_at=expires,
        actor=CLERK,
    )
    assert result.side_effects == [TierChanged(enrollment.program_id, None, 2, "Gold")]
    change = TierChange.objects.get(enrollment=enrollment)
    assert (change.to_tier, change.tier_expires_at, change.reason, change.actor) == (
        gold,
        expires,
        "set",
        "staff:7 clerk",
    )


def test_tier_history_is_append_only(org):
    enrollment = EnrollmentFactory(customer__organization=org)
    TierFactory(program=enrollment.program, number=1)
    tier_set(organization=org, enrollment=enrollment, tier_number=1, actor=CLERK)
    with pytest.raises(IntegrityError), transaction.atomic():
        TierChange.objects.update(reason="threshold")


# --- stamps ------------------------------------------------------------------------------------


def test_stamps_report_the_rewards_they_earn(org):
    card = CustomerCardFactory(customer__organization=org)
    coffee = RewardFactory(stamp_card=card.stamp_card, name="Coffee", stamp_cost=5)
    lunch = RewardFactory(stamp_card=card.stamp_card, name="Lunch", stamp_cost=10)
    RewardFactory(stamp_card=card.stamp_card, name="Retired", stamp_cost=3, active=False)

    first = stamps_add(organization=org, card=card, stamps=4, actor=CLERK).side_effects
    second = stamps_add(organization=org, card=card, stamps=7, actor=CLERK).side_effects

    assert first == [StampsAdded(card.code, 4, 4)]
    assert second == [
        StampsAdded(card.code, 7, 11),
        RewardEarned(card.code, coffee.pk, "Coffee", 5),
        RewardEarned(card.code, lunch.pk, "Lunch", 10),
    ]


def test_a_card_can_redeem_the_active_rewards_within_its_stamps(org):
    card = CustomerCardFactory(customer__organization=org)
    coffee = RewardFactory(stamp_card=card.stamp_card, stamp_cost=5)
    lunch = RewardFactory(stamp_card=card.stamp_card, stamp_cost=10)
    RewardFactory(stamp_card=card.stamp_card, stamp_cost=2, active=False)
    stamps_add(organization=org, card=card, stamps=6, actor=CLERK)
    progress = card_view(card).progress
    assert [r.pk for r in progress.redeemable] == [coffee.pk]
    assert progress.next_reward.pk == lunch.pk
    assert (progress.goal, progress.slots.count(True)) == (10, 6)
