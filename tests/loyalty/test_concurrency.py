"""Concurrent loyalty operations on one card or enrolment lose nothing and overdraw nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from loyalty.models import CustomerCard, Enrollment, PointsTransaction, StampTransaction
from loyalty.points_rewards import PointsReward, PointsRewardRedemption
from loyalty.services.points import points_award, points_deduct
from loyalty.services.rewards_catalogue import points_reward_redeem
from loyalty.services.stamps import card_enroll, reward_redeem, stamps_add
from loyalty.services.tier_renewals import tiers_renew_due
from loyalty.tiers import TierChange
from tests.concurrency import errors, run_concurrently
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    PointsRewardFactory,
    RewardFactory,
    StampCardFactory,
    TierFactory,
)

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]
TILL = Actor("api_key", "1 till")


def test_concurrent_stamp_additions_lose_nothing():
    card = CustomerCardFactory()
    org = card.organization

    outcomes = run_concurrently(
        50,
        lambda i: stamps_add(
            organization=org, card=CustomerCard.objects.get(pk=card.pk), stamps=1, actor=TILL
        ),
    )

    assert errors(outcomes) == []
    card.refresh_from_db()
    assert card.stamps == 50
    assert StampTransaction.objects.filter(card=card).count() == 50


def test_concurrent_redemptions_of_the_last_stamps_succeed_once():
    card = CustomerCardFactory()
    org = card.organization
    reward = RewardFactory(stamp_card=card.stamp_card, stamp_cost=5)
    stamps_add(organization=org, card=card, stamps=5, actor=TILL)

    outcomes = run_concurrently(
        20,
        lambda i: reward_redeem(
            organization=org, card=CustomerCard.objects.get(pk=card.pk), reward=reward, actor=TILL
        ),
    )

    failures = errors(outcomes)
    assert len(failures) == 19
    assert {f.code for f in failures if isinstance(f, DomainError)} == {
        ErrorCode.INSUFFICIENT_STAMPS
    }
    card.refresh_from_db()
    assert card.stamps == 0
    assert StampTransaction.objects.filter(card=card, kind="redeem").count() == 1


def test_concurrent_point_awards_lose_nothing():
    enrollment = EnrollmentFactory()
    org = enrollment.customer.organization

    outcomes = run_concurrently(
        50,
        lambda i: points_award(
            organization=org,
            enrollment=Enrollment.objects.get(pk=enrollment.pk),
            points=10,
            reference=f"order-{i}",
            actor=TILL,
        ),
    )

    assert errors(outcomes) == []
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 500
    assert PointsTransaction.objects.filter(enrollment=enrollment).count() == 50


def test_concurrent_deductions_never_overdraw():
    enrollment = EnrollmentFactory()
    org = enrollment.customer.organization
    points_award(organization=org, enrollment=enrollment, points=100, actor=TILL)

    outcomes = run_concurrently(
        20,
        lambda i: points_deduct(
            organization=org,
            enrollment=Enrollment.objects.get(pk=enrollment.pk),
            points=10,
            actor=TILL,
        ),
    )

    assert len(errors(outcomes)) == 10
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 0


def test_a_retried_award_racing_itself_is_paid_once():
    enrollment = EnrollmentFactory()
    org = enrollment.customer.organization

    outcomes = run_concurrently(
        10,
        lambda i: points_award(
            organization=org,
            enrollment=Enrollment.objects.get(pk=enrollment.pk),
            points=10,
            reference="order-1",
            actor=TILL,
        ),
    )

    assert {e.code for e in errors(outcomes)} == {ErrorCode.DUPLICATE_REFERENCE}
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 10


def test_concurrent_card_issues_to_one_customer_issue_one_card():
    template = StampCardFactory()
    customer = CustomerFactory(organization=template.organization)

    outcomes = run_concurrently(
        10,
        lambda i: card_enroll(
            organization=template.organization,
            customer=customer,
            stamp_card=template,
            actor=TILL,
        ),
    )

    failures = errors(outcomes)
    assert len(failures) == 9
    assert {getattr(f, "code", f) for f in failures} == {ErrorCode.ALREADY_ENROLLED}
    assert CustomerCard.objects.filter(customer=customer, stamp_card=template).count() == 1


def test_concurrent_redemptions_of_the_last_points_reward_succeed_once():
    reward = PointsRewardFactory(stock=1, points_cost=10)
    org = reward.program.organization
    enrollments = [
        EnrollmentFactory(customer=CustomerFactory(organization=org), program=reward.program)
        for _ in range(20)
    ]
    for enrollment in enrollments:
        points_award(organization=org, enrollment=enrollment, points=10, actor=TILL)

    outcomes = run_concurrently(
        20,
        lambda i: points_reward_redeem(
            organization=org,
            customer=enrollments[i].customer,
            reward=PointsReward.objects.get(pk=reward.pk),
            actor=TILL,
        ),
    )

    failures = errors(outcomes)
    assert len(failures) == 19
    assert {f.code for f in failures if isinstance(f, DomainError)} == {ErrorCode.OUT_OF_STOCK}
    reward.refresh_from_db()
    assert reward.stock == 0
    assert PointsRewardRedemption.objects.count() == 1
    assert sum(Enrollment.objects.values_list("points_balance", flat=True)) == 190


def test_concurrent_tier_reviews_end_each_period_once():
    enrollment = EnrollmentFactory(program__tier_window="rolling_12_months")
    program = enrollment.program
    silver = TierFactory(program=program, number=1)
    gold = TierFactory(program=program, number=2, points_threshold=1000)
    members = [enrollment] + [
        EnrollmentFactory(customer__organization=program.organization, program=program)
        for _ in range(4)
    ]
    expired = timezone.now() - dt.timedelta(days=1)
    Enrollment.objects.filter(pk__in=[m.pk for m in members]).update(
        tier=gold, tier_expires_at=expired
    )

    outcomes = run_concurrently(4, lambda i: tiers_renew_due())

    assert errors(outcomes) == []
    assert sum(outcome.downgraded for outcome in outcomes) == 5
    assert TierChange.objects.filter(reason="downgrade").count() == 5
    assert set(Enrollment.objects.values_list("tier", flat=True)) == {silver.pk}
