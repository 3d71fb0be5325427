"""Configuring programmes and their tiers: what tiers qualify on, over which window, for how
long (loyalty.services.tier_changes), and each tier's thresholds."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.normalization import require_choice

from ..choices import ClawbackPolicy, TierBasis, TierWindow
from ..models import CouponSeries, Program
from ..tiers import Tier
from .common import require_tenant
from .configuration import check_count, config_create, config_delete, config_update, required_text
from .purchase_input import CURRENCY, MAX_AMOUNT
from .rewards_catalogue import POINTS_REWARD_FIELDS

PROGRAM_FIELDS = (
    "name",
    "description",
    "active",
    "welcome_points",
    "welcome_coupon_series",
    "referrer_points",
    "referee_points",
    "point_value",
    "point_value_currency",
    "tier_basis",
    "tier_window",
    "tier_period_months",
    "pending_days",
    "points_valid_days",
    "clawback_policy",
)
# Pending and valid for at most ten years: every date reckoned from them stays a date.
MAX_DAYS = 3650
TIER_FIELDS = ("program", "number", "name", "points_threshold", "spend_threshold")
MAX_TIER_PERIOD_MONTHS = 120
SPEND_DECIMALS = Decimal("0.0001")  # what a tier's spend threshold column keeps


MAX_POINT_VALUE = Decimal(10) ** 8  # what the column (12 digits, 4 after the point) holds


def point_value_validate(point_value: Decimal, currency: str) -> None:
    """What a point is worth: from 0 (not configured), in a currency when it is worth more."""
    if (
        not isinstance(point_value, Decimal)
        or not 0 <= point_value < MAX_POINT_VALUE
        or point_value.as_tuple().exponent < -4
    ):
        raise DomainError(
            ErrorCode.INVALID,
            f"An amount from 0 to under {MAX_POINT_VALUE}, with at most 4 decimals.",
            field="point_value",
        )
    if currency and not CURRENCY.fullmatch(currency):
        raise DomainError(
            ErrorCode.INVALID,
            "An ISO 4217 code of 3 capital letters, e.g. EUR.",
            field="point_value_currency",
        )
    if point_value and not currency:
        raise DomainError(
            ErrorCode.REQUIRED,
            "The currency of the value of a point is needed.",
            field="point_value_currency",
        )


def program_validate(
    *,
    organization: Organization,
    name: str,
    welcome_points: int,
    welcome_coupon_series: CouponSeries | None,
    referrer_points: int,
    referee_points: int,
    point_value: Decimal,
    point_value_currency: str,
    tier_basis: str,
    tier_window: str,
    tier_period_months: int,
    pending_days: int = 0,
    points_valid_days: int | None = None,
    clawback_policy: str = ClawbackPolicy.WITHIN_BALANCE,
    program: Program | None = None,
) -> str:
    """The programme's name, cleaned: the organization's only programme of that name.
    `program` is the one being changed."""
    name = required_text(name, Program, "name")
    point_value_validate(point_value, point_value_currency)
    for points, field_name in (
        (welcome_points, "welcome_points"),
        (referrer_points, "referrer_points"),
        (referee_points, "referee_points"),
    ):
        check_count(points, field=field_name)
    require_choice(
        tier_basis, TierBasis, code=ErrorCode.INVALID, field="tier_basis", what="tier basis"
    )
    require_choice(
        tier_window, TierWindow, code=ErrorCode.INVALID, field="tier_window", what="tier window"
    )
    check_count(
        tier_period_months,
        field="tier_period_months",
        minimum=1,
        maximum=MAX_TIER_PERIOD_MONTHS,
    )
    check_count(pending_days, field="pending_days", maximum=MAX_DAYS)
    check_count(
        points_valid_days, field="points_valid_days", minimum=1, maximum=MAX_DAYS, optional=True
    )
    require_choice(
        clawback_policy,
        ClawbackPolicy,
        code=ErrorCode.INVALID,
        field="clawback_policy",
        what="clawback policy",
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
    point_value: Decimal = Decimal(0),
    point_value_currency: str = "",
    tier_basis: str = TierBasis.POINTS,
    tier_window: str = TierWindow.LIFETIME,
    tier_period_months: int = 12,
    pending_days: int = 0,
    points_valid_days: int | None = None,
    clawback_policy: str = ClawbackPolicy.WITHIN_BALANCE,
    actor: Actor = SYSTEM,
) -> Program:
    name = program_validate(
        organization=organization,
        name=name,
        welcome_points=welcome_points,
        welcome_coupon_series=welcome_coupon_series,
        referrer_points=referrer_points,
        referee_points=referee_points,
        point_value=point_value,
        point_value_currency=point_value_currency,
        tier_basis=tier_basis,
        tier_window=tier_window,
        tier_period_months=tier_period_months,
        pending_days=pending_days,
        points_valid_days=points_valid_days,
        clawback_policy=clawback_policy,
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
                point_value=point_value,
                point_value_currency=point_value_currency,
                tier_basis=tier_basis,
                tier_window=tier_window,
                tier_period_months=tier_period_months,
                pending_days=pending_days,
                points_valid_days=points_valid_days,
                clawback_policy=clawback_policy,
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
    point_value: Decimal,
    point_value_currency: str,
    tier_basis: str,
    tier_window: str,
    tier_period_months: int,
    pending_days: int,
    points_valid_days: int | None,
    clawback_policy: str,
    actor: Actor = SYSTEM,
) -> Program:
    """Enrolments already made keep what they were given: a tier's expiry stays as it was set,
    and the new tier settings apply from the next change of each member's tier; purchases already
    recorded keep their points' pending and expiry times, and returns after the change follow the
    new clawback policy."""
    name = program_validate(
        organization=program.organization,
        name=name,
        welcome_points=welcome_points,
        welcome_coupon_series=welcome_coupon_series,
        referrer_points=referrer_points,
        referee_points=referee_points,
        point_value=point_value,
        point_value_currency=point_value_currency,
        tier_basis=tier_basis,
        tier_window=tier_window,
        tier_period_months=tier_period_months,
        pending_days=pending_days,
        points_valid_days=points_valid_days,
        clawback_policy=clawback_policy,
        program=program,
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
        point_value=point_value,
        point_value_currency=point_value_currency,
        tier_basis=tier_basis,
        tier_window=tier_window,
        tier_period_months=tier_period_months,
        pending_days=pending_days,
        points_valid_days=points_valid_days,
        clawback_policy=clawback_policy,
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
    spend_threshold: Decimal | None,
    tier: Tier | None = None,
) -> str:
    """The tier's name, cleaned: its number is the programme's only tier of that number.
    `tier` is the one being changed."""
    check_count(number, field="number", minimum=1)
    name = required_text(name, Tier, "name")
    check_count(points_threshold, field="points_threshold", optional=True)
    if spend_threshold is not None and not (
        isinstance(spend_threshold, Decimal)
        and spend_threshold.is_finite()
        and 0 <= spend_threshold < MAX_AMOUNT
        and spend_threshold == spend_threshold.quantize(SPEND_DECIMALS)
    ):
        raise DomainError(
            ErrorCode.AMOUNT_INVALID,
            f"An amount from 0 to under {MAX_AMOUNT}, with at most 4 decimals.",
            field="spend_threshold",
        )
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
    spend_threshold: Decimal | None = None,
    actor: Actor = SYSTEM,
) -> Tier:
    """Members reach the new tier by their next award or purchase that takes their qualifying
    figure over its threshold, or at the end of their tier's period."""
    name = tier_validate(
        program=program,
        number=number,
        name=name,
        points_threshold=points_threshold,
        spend_threshold=spend_threshold,
    )
    return config_create(
        Tier,
        TIER_FIELDS,
        actor=actor,
        program=program,
        number=number,
        name=name,
        points_threshold=points_threshold,
        spend_threshold=spend_threshold,
    )


@transaction.atomic
def tier_update(
    *,
    tier: Tier,
    number: int,
    name: str,
    points_threshold: int | None,
    spend_threshold: Decimal | None,
    actor: Actor = SYSTEM,
) -> Tier:
    name = tier_validate(
        program=tier.program,
        number=number,
        name=name,
        points_threshold=points_threshold,
        spend_threshold=spend_threshold,
        tier=tier,
    )
    return config_update(
        tier,
        actor=actor,
        number=number,
        name=name,
        points_threshold=points_threshold,
        spend_threshold=spend_threshold,
    )


@transaction.atomic
def tier_delete(*, tier: Tier, actor: Actor = SYSTEM) -> None:
    config_delete(
        tier, TIER_FIELDS, actor, in_use=f"Members are or were in the tier {tier.name!r}."
    )
