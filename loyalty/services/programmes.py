"""Configuring programmes and their tiers."""

from django.db import IntegrityError, transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization

from ..choices import ClawbackPolicy
from ..models import CouponSeries, Program, Tier
from .common import require_tenant
from .configuration import check_count, config_create, config_delete, config_update, required_text
from .rewards_catalogue import POINTS_REWARD_FIELDS

PROGRAM_FIELDS = (
    "name",
    "description",
    "active",
    "welcome_points",
    "welcome_coupon_series",
    "referrer_points",
    "referee_points",
    "pending_days",
    "points_valid_days",
    "clawback_policy",
)
# Pending and valid for at most ten years: every date reckoned from them stays a date.
MAX_DAYS = 3650
TIER_FIELDS = ("program", "number", "name", "points_threshold")


def program_validate(
    *,
    organization: Organization,
    name: str,
    welcome_points: int,
    welcome_coupon_series: CouponSeries | None,
    referrer_points: int,
    referee_points: int,
    pending_days: int = 0,
    points_valid_days: int | None = None,
    clawback_policy: str = ClawbackPolicy.WITHIN_BALANCE,
    program: Program | None = None,
) -> str:
    """The programme's name, cleaned: the organization's only programme of that name.
    `program` is the one being changed."""
    name = required_text(name, Program, "name")
    for points, field_name in (
        (welcome_points, "welcome_points"),
        (referrer_points, "referrer_points"),
        (referee_points, "referee_points"),
    ):
        check_count(points, field=field_name)
    check_count(pending_days, field="pending_days")
    check_count(points_valid_days, field="points_valid_days", minimum=1, optional=True)
    for days, field_name in (
        (pending_days, "pending_days"),
        (points_valid_days, "points_valid_days"),
    ):
        if days is not None and days > MAX_DAYS:
            raise DomainError(
                ErrorCode.INVALID, f"At most {MAX_DAYS} days (ten years).", field=field_name
            )
    if clawback_policy not in ClawbackPolicy.values:
        raise DomainError(
            ErrorCode.INVALID,
            f"One of {', '.join(ClawbackPolicy.values)}.",
            field="clawback_policy",
        )
    if welcome_coupon_series is not None:
        require_tenant(welcome_coupon_series.organization_id, organization, "welcome_coupon_series")
    others = Program.objects.filter(organization=organization, name=name)
    if program is not None:
        others = others.exclude(pk=program.pk)
    if others.exists():
        raise DomainError(
            ErrorCode.PROGRAM_TAKEN,
            f"The organization already has a programme {name!r}.",
            field="name",
        )
    return name


def program_create(
    *,
    organization: Organization,
    name: str,
    description: str = "",
    active: bool = True,
    welcome_points: int = 0,
    welcome_coupon_series: CouponSeries | None = None,
    referrer_points: int = 0,
    referee_points: int = 0,
    pending_days: int = 0,
    points_valid_days: int | None = None,
    clawback_policy: str = ClawbackPolicy.WITHIN_BALANCE,
    actor: Actor = SYSTEM,
) -> Program:
    returns = {
        "pending_days": pending_days,
        "points_valid_days": points_valid_days,
        "clawback_policy": clawback_policy,
    }
    name = program_validate(
        organization=organization,
        name=name,
        welcome_points=welcome_points,
        welcome_coupon_series=welcome_coupon_series,
        referrer_points=referrer_points,
        referee_points=referee_points,
        **returns,
    )
    try:
        with transaction.atomic():
            return config_create(
                Program,
                PROGRAM_FIELDS,
                actor=actor,
                organization=organization,
                name=name,
                description=description,
                active=active,
                welcome_points=welcome_points,
                welcome_coupon_series=welcome_coupon_series,
                referrer_points=referrer_points,
                referee_points=referee_points,
                **returns,
            )
    except IntegrityError:
        raise DomainError(
            ErrorCode.PROGRAM_TAKEN,
            f"The organization already has a programme {name!r}.",
            field="name",
        ) from None


@transaction.atomic
def program_update(
    *,
    program: Program,
    name: str,
    description: str,
    active: bool,
    welcome_points: int,
    welcome_coupon_series: CouponSeries | None,
    referrer_points: int,
    referee_points: int,
    pending_days: int,
    points_valid_days: int | None,
    clawback_policy: str,
    actor: Actor = SYSTEM,
) -> Program:
    """Enrolments already made keep what they were given; purchases already recorded keep
    their points' pending and expiry times, and returns after the change follow the new
    clawback policy."""
    returns = {
        "pending_days": pending_days,
        "points_valid_days": points_valid_days,
        "clawback_policy": clawback_policy,
    }
    name = program_validate(
        organization=program.organization,
        name=name,
        welcome_points=welcome_points,
        welcome_coupon_series=welcome_coupon_series,
        referrer_points=referrer_points,
        referee_points=referee_points,
        program=program,
        **returns,
    )
    return config_update(
        program,
        actor=actor,
        name=name,
        description=description,
        active=active,
        welcome_points=welcome_points,
        welcome_coupon_series=welcome_coupon_series,
        referrer_points=referrer_points,
        referee_points=referee_points,
        **returns,
    )


@transaction.atomic
def program_delete(*, program: Program, actor: Actor = SYSTEM) -> None:
    """A programme goes with its tiers and points rewards; one that customers are enrolled in
    stays."""
    config_delete(
        program,
        PROGRAM_FIELDS,
        actor,
        in_use=f"Customers are enrolled in {program.name!r}.",
        cascaded=[
            *[(tier, TIER_FIELDS) for tier in program.tiers.all()],
            *[(reward, POINTS_REWARD_FIELDS) for reward in program.points_rewards.all()],
        ],
    )


def tier_validate(
    *,
    program: Program,
    number: int,
    name: str,
    points_threshold: int | None,
    tier: Tier | None = None,
) -> str:
    """The tier's name, cleaned: its number is the programme's only tier of that number.
    `tier` is the one being changed."""
    check_count(number, field="number", minimum=1)
    name = required_text(name, Tier, "name")
    check_count(points_threshold, field="points_threshold", optional=True)
    others = Tier.objects.filter(program=program, number=number)
    if tier is not None:
        others = others.exclude(pk=tier.pk)
    if others.exists():
        raise DomainError(
            ErrorCode.TIER_TAKEN, f"{program.name!r} has a tier number {number}.", field="number"
        )
    return name


@transaction.atomic
def tier_create(
    *,
    program: Program,
    number: int,
    name: str,
    points_threshold: int | None = None,
    actor: Actor = SYSTEM,
) -> Tier:
    """Members reach the new tier by their next award that crosses its threshold."""
    name = tier_validate(
        program=program, number=number, name=name, points_threshold=points_threshold
    )
    return config_create(
        Tier,
        TIER_FIELDS,
        actor=actor,
        program=program,
        number=number,
        name=name,
        points_threshold=points_threshold,
    )


@transaction.atomic
def tier_update(
    *, tier: Tier, number: int, name: str, points_threshold: int | None, actor: Actor = SYSTEM
) -> Tier:
    name = tier_validate(
        program=tier.program,
        number=number,
        name=name,
        points_threshold=points_threshold,
        tier=tier,
    )
    return config_update(
        tier, actor=actor, number=number, name=name, points_threshold=points_threshold
    )


@transaction.atomic
def tier_delete(*, tier: Tier, actor: Actor = SYSTEM) -> None:
    config_delete(
        tier, TIER_FIELDS, actor, in_use=f"Members are or were in the tier {tier.name!r}."
    )
