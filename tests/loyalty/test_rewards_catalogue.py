"""Rewards bought with points: configuring the catalogue and redeeming a reward for its coupon."""

import datetime as dt

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import ConfigurationChange
from customers.choices import CustomerStatus
from loyalty.models import PointsLot, PointsTransaction
from loyalty.points_rewards import PointsReward, PointsRewardRedemption
from loyalty.services.points import points_award
from loyalty.services.programmes import program_delete
from loyalty.services.rewards_catalogue import (
    points_reward_create,
    points_reward_delete,
    points_reward_redeem,
    points_reward_update,
)
from tests.customers.factories import CustomerFactory, StatusLabelFactory
from tests.loyalty.factories import (
    CouponSeriesFactory,
    EnrollmentFactory,
    PointsRewardFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db
STAFF = Actor("user", "7 ana")


def funded(points=500, **reward_fields):
    """An enrolment holding `points` and a reward of its programme."""
    enrollment = EnrollmentFactory()
    org = enrollment.customer.organization
    points_award(organization=org, enrollment=enrollment, points=points, actor=STAFF)
    reward = PointsRewardFactory(program=enrollment.program, **reward_fields)
    return enrollment, reward


def redeem(enrollment, reward):
    return points_reward_redeem(
        organization=enrollment.customer.organization,
        customer=enrollment.customer,
        reward=reward,
        actor=STAFF,
    )


def refused(enrollment, reward) -> DomainError:
    with pytest.raises(DomainError) as caught:
        redeem(enrollment, reward)
    return caught.value


def test_redeeming_spends_the_points_issues_the_coupon_and_records_the_redemption():
    enrollment, reward = funded(500, points_cost=120, stock=3)

    result = redeem(enrollment, reward)

    assert result.balance == 380
    redemption = result.redemption
    assert (redemption.points, redemption.customer, redemption.enrollment) == (
        120,
        enrollment.customer,
        enrollment,
    )
    assert redemption.coupon.series == reward.coupon_series
    assert redemption.coupon.customer == enrollment.customer
    assert redemption.actor == str(STAFF)
    reward.refresh_from_db()
    assert reward.stock == 2
    deduction = PointsTransaction.objects.get(enrollment=enrollment, kind="deduct")
    assert (deduction.points, deduction.reason) == (-120, f"Redeemed {reward.name}")
    assert [e.type for e in result.side_effects] == ["coupon"]


def test_an_unlimited_reward_keeps_no_stock():
    enrollment, reward = funded(500, stock=None)
    redeem(enrollment, reward)
    reward.refresh_from_db()
    assert reward.stock is None


def test_the_points_come_from_the_lots_that_expire_first():
    enrollment = EnrollmentFactory()
    org = enrollment.customer.organization
    soon = timezone.now() + dt.timedelta(days=5)
    later = timezone.now() + dt.timedelta(days=50)
    for points, expires_at in ((100, None), (100, later), (100, soon)):
        points_award(
            organization=org,
            enrollment=enrollment,
            points=points,
            expires_at=expires_at,
            actor=STAFF,
        )
    reward = PointsRewardFactory(program=enrollment.program, points_cost=150)

    redeem(enrollment, reward)

    remaining = {lot.expires_at: lot.remaining for lot in PointsLot.objects.all()}
    assert remaining == {soon: 0, later: 50, None: 100}


def test_a_sold_out_reward_is_refused():
    enrollment, reward = funded(stock=0)
    assert refused(enrollment, reward).code == ErrorCode.OUT_OF_STOCK
    assert not PointsRewardRedemption.objects.exists()


def test_the_per_customer_limit_is_kept():
    enrollment, reward = funded(1000, points_cost=100, per_customer_limit=2)
    redeem(enrollment, reward)
    redeem(enrollment, reward)
    assert refused(enrollment, reward).code == ErrorCode.REDEMPTION_LIMIT_REACHED
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 800


def test_not_enough_points_is_refused_and_nothing_changes():
    enrollment, reward = funded(99, points_cost=100, stock=1)
    error = refused(enrollment, reward)
    assert (error.code, error.field) == (ErrorCode.INSUFFICIENT_POINTS, "reward")
    reward.refresh_from_db()
    assert reward.stock == 1
    assert not enrollment.customer.coupons.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"active": False},
        {"active_from": timezone.now() + dt.timedelta(days=1)},
        {"active_until": timezone.now() - dt.timedelta(days=1)},
    ],
)
def test_a_reward_not_offered_now_is_refused(fields):
    enrollment, reward = funded(**fields)
    assert refused(enrollment, reward).code == ErrorCode.INACTIVE


def test_a_customer_whose_label_blocks_spending_is_refused():
    enrollment, reward = funded()
    customer = enrollment.customer
    customer.status_label = StatusLabelFactory(
        organization=customer.organization,
        status=CustomerStatus.FRAUD_SUSPECTED,
        may_earn=True,
        may_spend=False,
    )
    customer.save()
    assert refused(enrollment, reward).code == ErrorCode.SPENDING_BLOCKED


def test_a_customer_not_enrolled_in_the_programme_is_refused():
    enrollment, reward = funded()
    stranger = CustomerFactory(organization=enrollment.customer.organization)
    with pytest.raises(DomainError) as caught:
        points_reward_redeem(
            organization=stranger.organization, customer=stranger, reward=reward, actor=STAFF
        )
    assert caught.value.code == ErrorCode.NOT_ENROLLED


def test_another_organizations_reward_is_not_found():
    enrollment, _ = funded()
    foreign = PointsRewardFactory()
    assert refused(enrollment, foreign).code == ErrorCode.NOT_FOUND


def test_a_redemption_row_cannot_be_changed():
    enrollment, reward = funded()
    redemption = redeem(enrollment, reward).redemption
    with pytest.raises(DatabaseError), transaction.atomic():
        PointsRewardRedemption.objects.filter(pk=redemption.pk).update(points=1)


def test_configuring_a_reward_is_on_record():
    program = ProgramFactory()
    series = CouponSeriesFactory(organization=program.organization)
    reward = points_reward_create(
        program=program, name=" Free coffee ", points_cost=150, coupon_series=series, actor=STAFF
    )
    assert reward.name == "Free coffee"
    points_reward_update(
        reward=reward,
        name="Free coffee",
        description="Any size",
        points_cost=200,
        stock=10,
        per_customer_limit=1,
        active_from=None,
        active_until=None,
        coupon_series=series,
        active=True,
        actor=STAFF,
    )
    reward.refresh_from_db()
    assert (reward.points_cost, reward.stock, reward.per_customer_limit) == (200, 10, 1)
    points_reward_delete(reward=reward, actor=STAFF)
    assert not PointsReward.objects.exists()
    actions = list(ConfigurationChange.objects.values_list("action", flat=True).order_by("pk"))
    assert actions == ["created", "changed", "deleted"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"points_cost": 0}, "points_cost"),
        ({"stock": -1}, "stock"),
        ({"per_customer_limit": 0}, "per_customer_limit"),
        ({"name": " "}, "name"),
        (
            {
                "active_from": timezone.now(),
                "active_until": timezone.now() - dt.timedelta(hours=1),
            },
            "active_until",
        ),
    ],
)
def test_invalid_configuration_names_the_field(fields, field):
    program = ProgramFactory()
    values = {
        "name": "Free coffee",
        "points_cost": 150,
        "coupon_series": CouponSeriesFactory(organization=program.organization),
    }
    with pytest.raises(DomainError) as caught:
        points_reward_create(program=program, **{**values, **fields})
    assert caught.value.field == field


def test_the_coupon_series_must_be_the_programmes_organizations():
    program = ProgramFactory()
    with pytest.raises(DomainError) as caught:
        points_reward_create(
            program=program, name="Free coffee", points_cost=1, coupon_series=CouponSeriesFactory()
        )
    assert caught.value.field == "coupon_series"


def test_a_redeemed_reward_cannot_be_deleted():
    enrollment, reward = funded()
    redeem(enrollment, reward)
    with pytest.raises(DomainError) as caught:
        points_reward_delete(reward=reward)
    assert caught.value.code == ErrorCode.IN_USE


def test_a_programme_goes_with_its_points_rewards_on_record():
    reward = PointsRewardFactory()
    program_delete(program=reward.program, actor=STAFF)
    assert not PointsReward.objects.exists()
    assert ConfigurationChange.objects.filter(action="deleted").count() == 2
