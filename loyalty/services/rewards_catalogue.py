"""Rewards bought with points: a programme's catalogue, configured by staff, and the redemption
that spends a member's points on a reward and issues its coupon.

A redemption locks the enrolment, then the reward: the stock and the per-customer limit are
checked and changed under that lock, so concurrent redemptions of the last unit succeed once.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.closure import customer_refuse_closed
from customers.models import Customer

from ..models import CouponSeries, Enrollment, Program
from ..points_rewards import PointsReward, PointsRewardRedemption
from ..side_effects import SideEffect
from .common import lock_enrollment, refuse_spending_blocked, require_tenant
from .configuration import check_count, config_create, config_delete, config_update, required_text
from .coupons import coupon_issue
from .points import points_deduct

POINTS_REWARD_FIELDS = (
    "program",
    "name",
    "description",
    "points_cost",
    "stock",
    "per_customer_limit",
    "active_from",
    "active_until",
    "coupon_series",
    "active",
)


def points_reward_validate(
    *,
    program: Program,
    name: str,
    points_cost: int,
    stock: int | None,
    per_customer_limit: int | None,
    active_from: dt.datetime | None,
    active_until: dt.datetime | None,
    coupon_series: CouponSeries,
) -> str:
    """The reward's name, cleaned."""
    check_count(points_cost, field="points_cost", minimum=1)
    check_count(stock, field="stock", optional=True)
    check_count(per_customer_limit, field="per_customer_limit", minimum=1, optional=True)
    if active_from is not None and active_until is not None and active_until <= active_from:
        raise DomainError(
            ErrorCode.INVALID, "The reward must end after it starts.", field="active_until"
        )
    require_tenant(coupon_series.organization_id, program.organization, "coupon_series")
    return required_text(name, PointsReward, "name")


@transaction.atomic
def points_reward_create(
    *,
    program: Program,
    name: str,
    points_cost: int,
    coupon_series: CouponSeries,
    description: str = "",
    stock: int | None = None,
    per_customer_limit: int | None = None,
    active_from: dt.datetime | None = None,
    active_until: dt.datetime | None = None,
    active: bool = True,
    actor: Actor = SYSTEM,
) -> PointsReward:
    values = {
        "points_cost": points_cost,
        "stock": stock,
        "per_customer_limit": per_customer_limit,
        "active_from": active_from,
        "active_until": active_until,
        "coupon_series": coupon_series,
    }
    name = points_reward_validate(program=program, name=name, **values)
    return config_create(
        PointsReward,
        POINTS_REWARD_FIELDS,
        actor=actor,
        program=program,
        name=name,
        description=description,
        active=active,
        **values,
    )


@transaction.atomic
def points_reward_update(
    *,
    reward: PointsReward,
    name: str,
    description: str,
    points_cost: int,
    stock: int | None,
    per_customer_limit: int | None,
    active_from: dt.datetime | None,
    active_until: dt.datetime | None,
    coupon_series: CouponSeries,
    active: bool,
    actor: Actor = SYSTEM,
) -> PointsReward:
    """Redemptions already made keep what they cost."""
    values = {
        "points_cost": points_cost,
        "stock": stock,
        "per_customer_limit": per_customer_limit,
        "active_from": active_from,
        "active_until": active_until,
        "coupon_series": coupon_series,
    }
    name = points_reward_validate(program=reward.program, name=name, **values)
    return config_update(
        reward, actor=actor, name=name, description=description, active=active, **values
    )


@transaction.atomic
def points_reward_delete(*, reward: PointsReward, actor: Actor = SYSTEM) -> None:
    config_delete(reward, POINTS_REWARD_FIELDS, actor, in_use=f"{reward.name!r} was redeemed.")


@dataclass
class RedemptionResult:
    redemption: PointsRewardRedemption
    balance: int
    side_effects: list[SideEffect] = field(default_factory=list)


def _refuse_unavailable(reward: PointsReward, customer: Customer, now: dt.datetime) -> None:
    """Refuses a reward that is switched off, outside its dates, sold out, or that the
    customer has redeemed as often as they may."""
    started = reward.active_from is None or reward.active_from <= now
    ended = reward.active_until is not None and reward.active_until <= now
    if not reward.active or not started or ended:
        raise DomainError(
            ErrorCode.INACTIVE, f"{reward.name!r} is not offered now.", field="reward"
        )
    if reward.stock is not None and reward.stock < 1:
        raise DomainError(ErrorCode.OUT_OF_STOCK, f"{reward.name!r} is sold out.", field="reward")
    if reward.per_customer_limit is not None:
        redeemed = PointsRewardRedemption.objects.filter(reward=reward, customer=customer).count()
        if redeemed >= reward.per_customer_limit:
            raise DomainError(
                ErrorCode.REDEMPTION_LIMIT_REACHED,
                f"{reward.name!r} may be redeemed {reward.per_customer_limit} times per customer.",
                field="reward",
            )


@transaction.atomic
def points_reward_redeem(
    *, organization: Organization, customer: Customer, reward: PointsReward, actor: Actor
) -> RedemptionResult:
    """Spends the reward's points (from the lots that expire first), takes a unit of its stock
    and issues its coupon, all or nothing."""
    require_tenant(customer.organization_id, organization, "customer")
    require_tenant(reward.program.organization_id, organization, "reward")
    enrollment = Enrollment.objects.filter(customer=customer, program_id=reward.program_id).first()
    if enrollment is None:
        raise DomainError(
            ErrorCode.NOT_ENROLLED,
            "The customer is not enrolled in the reward's programme.",
            field="reward",
        )
    locked_enrollment = lock_enrollment(organization, enrollment)
    locked = (
        PointsReward.objects.select_for_update(of=("self",))
        .select_related("coupon_series")
        .get(pk=reward.pk)
    )
    customer_refuse_closed(locked_enrollment.customer)
    refuse_spending_blocked(locked_enrollment.customer)
    _refuse_unavailable(locked, customer, timezone.now())
    if locked_enrollment.points_balance < locked.points_cost:
        raise DomainError(
            ErrorCode.INSUFFICIENT_POINTS,
            f"{locked.name!r} costs {locked.points_cost} points; "
            f"the balance is {locked_enrollment.points_balance}.",
            field="reward",
        )
    points_deduct(
        organization=organization,
        enrollment=locked_enrollment,
        points=locked.points_cost,
        reason=f"Redeemed {locked.name}",
        actor=actor,
    )
    if locked.stock is not None:
        PointsReward.objects.filter(pk=locked.pk).update(stock=F("stock") - 1)
    issued = coupon_issue(
        organization=organization, series=locked.coupon_series, customer=customer, actor=actor
    )
    redemption = PointsRewardRedemption.objects.create(
        reward=locked,
        enrollment=locked_enrollment,
        customer=customer,
        points=locked.points_cost,
        coupon=issued.coupon,
        actor=str(actor),
    )
    return RedemptionResult(redemption, locked_enrollment.points_balance, issued.side_effects)
