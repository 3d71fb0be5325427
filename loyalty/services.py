"""Loyalty operations: enrolments, points and their expiry, tiers, coupons, referrals, stamp cards.

Each function runs in one transaction and checks that every object it is given belongs to the
caller's organization. Running totals (points balance, lots, stamps) change only together with the
ledger row that explains them, under a row lock on the enrolment or card, so concurrent calls
never lose an update or overdraw. Each reports what else it did as side effects.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone

from crm import audit as config_audit
from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers import audit
from customers.closure import customer_is_closed, customer_refuse_closed
from customers.models import Customer
from customers.normalization import clean_text

from .links import card_links_message
from .models import (
    CardLinkDelivery,
    CardStatus,
    Coupon,
    CouponSeries,
    CustomerCard,
    DeliveryChannel,
    DeliveryStatus,
    Enrollment,
    PointsKind,
    PointsLot,
    PointsTransaction,
    Program,
    Reward,
    StampCard,
    StampKind,
    StampTransaction,
    Tier,
    TierChange,
    TierChangeReason,
)
from .side_effects import (
    CouponIssued,
    PointsAwarded,
    RewardEarned,
    SideEffect,
    StampsAdded,
    TierChanged,
)
from .sms import send_sms

logger = logging.getLogger(__name__)

MAX_STAMPS_PER_CALL = 100
MAX_POINTS = 10**12  # per call: far beyond any real award, well inside a 64-bit balance


@dataclass
class EnrollmentResult:
    enrollment: Enrollment
    side_effects: list[SideEffect] = field(default_factory=list)


@dataclass
class PointsResult:
    transaction: PointsTransaction
    side_effects: list[SideEffect] = field(default_factory=list)


@dataclass
class CardResult:
    card: CustomerCard
    side_effects: list[SideEffect] = field(default_factory=list)


@dataclass
class StampsResult:
    transaction: StampTransaction
    card: CustomerCard
    side_effects: list[SideEffect] = field(default_factory=list)


@dataclass
class CouponResult:
    coupon: Coupon
    side_effects: list[SideEffect] = field(default_factory=list)


def _require_tenant(organization_id: int, organization: Organization, what: str) -> None:
    """Another organization's object is reported exactly like one that does not exist."""
    if organization_id != organization.pk:
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {what}.", field=what)


# --- enrolments and tiers ----------------------------------------------------------------------


def _tier(program: Program, number: int | None, *, field: str) -> Tier | None:
    tiers = program.tiers.order_by("number")
    if number is None:
        return tiers.first()
    tier = tiers.filter(number=number).first()
    if tier is None:
        raise DomainError(
            ErrorCode.TIER_UNKNOWN, f"{program.name!r} has no tier number {number}.", field=field
        )
    return tier


def _change_tier(
    enrollment: Enrollment,
    tier: Tier | None,
    tier_expires_at: dt.datetime | None,
    reason: str,
    actor: Actor,
) -> TierChanged | None:
    """Move the enrolment to `tier`, on record; the side effect when the tier really changed."""
    previous = enrollment.tier
    tier_expires_at = tier_expires_at if tier else None
    if tier == previous and tier_expires_at == enrollment.tier_expires_at:
        return None
    changes = {f"{enrollment.program.name}: tier": (previous, tier)}
    if tier_expires_at != enrollment.tier_expires_at:
        changes[f"{enrollment.program.name}: tier expires"] = (
            enrollment.tier_expires_at,
            tier_expires_at,
        )
    enrollment.tier = tier
    enrollment.tier_expires_at = tier_expires_at
    enrollment.save(update_fields=["tier", "tier_expires_at", "updated_at"])
    audit.record(
        enrollment.customer, subject="enrollment", action=reason, changes=changes, actor=actor
    )
    TierChange.objects.create(
        enrollment=enrollment,
        from_tier=previous,
        to_tier=tier,
        tier_expires_at=enrollment.tier_expires_at,
        reason=reason,
        actor=str(actor),
    )
    if tier is None or tier == previous:
        return None
    return TierChanged(
        program_id=enrollment.program_id,
        from_tier=previous.number if previous else None,
        to_tier=tier.number,
        tier_name=tier.name,
    )


def enrollment_validate(
    *,
    organization: Organization,
    customer: Customer,
    program: Program,
    tier_number: int | None = None,
) -> Tier | None:
    """Every check enrolling would make, writing nothing; the tier it would give."""
    _require_tenant(customer.organization_id, organization, "customer")
    _require_tenant(program.organization_id, organization, "program")
    if not program.active:
        raise DomainError(ErrorCode.INACTIVE, f"{program.name!r} is not active.", field="program")
    tier = _tier(program, tier_number, field="tier_number")
    if Enrollment.objects.filter(customer=customer, program=program).exists():
        raise _already_enrolled(program)
    return tier


def _already_enrolled(program: Program) -> DomainError:
    return DomainError(
        ErrorCode.ALREADY_ENROLLED,
        f"The customer is already enrolled in {program.name!r}.",
        field="program",
    )


@transaction.atomic
def enrollment_create(
    *,
    organization: Organization,
    customer: Customer,
    program: Program,
    tier_number: int | None = None,
    tier_expires_at: dt.datetime | None = None,
    points: int = 0,
    points_expire_at: dt.datetime | None = None,
    actor: Actor,
) -> EnrollmentResult:
    """Enrol a customer at a tier (the lowest by default), with opening points, and give the
    programme's welcome points and coupon."""
    customer_refuse_closed(customer)
    tier = enrollment_validate(
        organization=organization, customer=customer, program=program, tier_number=tier_number
    )
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(customer=customer, program=program)
    except IntegrityError:
        raise _already_enrolled(program) from None  # a concurrent call enrolled them first
    audit.record(
        customer,
        subject="enrollment",
        action="added",
        changes={"programme": (None, program.name)},
        actor=actor,
    )
    result = EnrollmentResult(enrollment)
    _change_tier(enrollment, tier, tier_expires_at, TierChangeReason.ENROLMENT, actor)
    awards = [(points, "Points at enrolment", points_expire_at)]
    awards.append((program.welcome_points, "Welcome points", None))
    for amount, reason, expires_at in awards:
        if amount:
            award = points_award(
                organization=organization,
                enrollment=enrollment,
                points=amount,
                reason=reason,
                expires_at=expires_at,
                actor=actor,
            )
            result.side_effects.extend(award.side_effects)
    if program.welcome_coupon_series_id:
        issued = coupon_issue(
            organization=organization,
            series=program.welcome_coupon_series,
            customer=customer,
            actor=actor,
        )
        result.side_effects.extend(issued.side_effects)
    return result


@transaction.atomic
def tier_set(
    *,
    organization: Organization,
    enrollment: Enrollment,
    tier_number: int,
    tier_expires_at: dt.datetime | None = None,
    actor: Actor,
) -> EnrollmentResult:
    locked = _lock_enrollment(organization, enrollment)
    customer_refuse_closed(locked.customer)
    tier = _tier(locked.program, tier_number, field="tier_number")
    changed = _change_tier(locked, tier, tier_expires_at, TierChangeReason.SET, actor)
    enrollment.tier, enrollment.tier_expires_at = locked.tier, locked.tier_expires_at
    return EnrollmentResult(enrollment, [changed] if changed else [])


def _promote(locked: Enrollment, actor: Actor) -> TierChanged | None:
    """Move up to the highest tier whose points threshold the points earned have reached."""
    reached = (
        locked.program.tiers.filter(points_threshold__lte=locked.points_earned)
        .order_by("-number")
        .first()
    )
    if reached is None or (locked.tier is not None and locked.tier.number >= reached.number):
        return None
    return _change_tier(locked, reached, None, TierChangeReason.THRESHOLD, actor)


# --- points ------------------------------------------------------------------------------------


def _lock_enrollment(organization: Organization, enrollment: Enrollment) -> Enrollment:
    locked = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("program", "customer", "tier")
        .get(pk=enrollment.pk)
    )
    _require_tenant(locked.program.organization_id, organization, "enrollment")
    return locked


def _append_points(locked: Enrollment, *, kind: str, points: int, actor: Actor, **extra):
    row = PointsTransaction.objects.create(
        enrollment=locked, kind=kind, points=points, actor=str(actor), **extra
    )
    changes = {
        f"{locked.program.name}: points": (locked.points_balance, locked.points_balance + points)
    }
    if extra.get("reason"):
        changes["reason"] = (None, extra["reason"])
    audit.record(locked.customer, subject="points", action=kind, changes=changes, actor=actor)
    earned = points if kind == PointsKind.AWARD else 0
    Enrollment.objects.filter(pk=locked.pk).update(
        points_balance=F("points_balance") + points,
        points_earned=F("points_earned") + earned,
        updated_at=timezone.now(),
    )
    locked.points_balance += points
    locked.points_earned += earned
    return row


def _check_amount(points: int, reference: str | None, locked: Enrollment) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise DomainError(
            ErrorCode.AMOUNT_INVALID,
            f"Points must be a whole number from 1 to {MAX_POINTS}.",
            field="points",
        )
    if reference is not None and locked.points_transactions.filter(reference=reference).exists():
        raise DomainError(
            ErrorCode.DUPLICATE_REFERENCE,
            f"Reference {reference!r} was already used for this enrolment.",
            field="reference",
        )


@dataclass
class Expired:
    lots: int = 0
    points: int = 0


def _expire_due_lots(locked: Enrollment, now: dt.datetime, actor: Actor) -> Expired:
    """Write an expiry row for what remains of each lot past its expiry."""
    expired = Expired()
    for lot in locked.lots.filter(remaining__gt=0, expires_at__lte=now).order_by("expires_at"):
        _append_points(
            locked,
            kind=PointsKind.EXPIRE,
            points=-lot.remaining,
            actor=actor,
            reason="Points expired",
            expired_lot=lot,
        )
        PointsLot.objects.filter(pk=lot.pk).update(remaining=0)
        expired.lots += 1
        expired.points += lot.remaining
    return expired


@transaction.atomic
def points_award(
    *,
    organization: Organization,
    enrollment: Enrollment,
    points: int,
    reason: str = "",
    reference: str | None = None,
    expires_at: dt.datetime | None = None,
    actor: Actor,
) -> PointsResult:
    """Award points as a new lot (expiring at `expires_at`, if given); a reference pays once."""
    locked = _lock_enrollment(organization, enrollment)
    customer_refuse_closed(locked.customer)
    _check_amount(points, reference, locked)
    row = _append_points(
        locked,
        kind=PointsKind.AWARD,
        points=points,
        actor=actor,
        reason=reason,
        reference=reference,
        expires_at=expires_at,
    )
    PointsLot.objects.create(
        enrollment=locked, award=row, points=points, remaining=points, expires_at=expires_at
    )
    result = PointsResult(
        row,
        [
            PointsAwarded(
                customer_id=locked.customer.public_id,
                program_id=locked.program_id,
                points=points,
                reason=reason,
            )
        ],
    )
    promoted = _promote(locked, actor)
    if promoted:
        result.side_effects.append(promoted)
    enrollment.refresh_from_db(fields=["points_balance", "points_earned", "tier", "updated_at"])
    return result


@transaction.atomic
def points_deduct(
    *,
    organization: Organization,
    enrollment: Enrollment,
    points: int,
    reason: str = "",
    reference: str | None = None,
    actor: Actor,
) -> PointsResult:
    """Spend points from the lots that expire first; never more than the unexpired balance."""
    locked = _lock_enrollment(organization, enrollment)
    customer_refuse_closed(locked.customer)
    _check_amount(points, reference, locked)
    _expire_due_lots(locked, timezone.now(), actor)
    if locked.points_balance < points:
        raise DomainError(
            ErrorCode.INSUFFICIENT_POINTS,
            f"The balance is {locked.points_balance} points; {points} cannot be deducted.",
            field="points",
        )
    row = _append_points(
        locked,
        kind=PointsKind.DEDUCT,
        points=-points,
        actor=actor,
        reason=reason,
        reference=reference,
    )
    to_spend = points
    lots = locked.lots.filter(remaining__gt=0).order_by(F("expires_at").asc(nulls_last=True), "pk")
    for lot in lots:
        spent = min(lot.remaining, to_spend)
        PointsLot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - spent)
        to_spend -= spent
        if not to_spend:
            break
    enrollment.refresh_from_db(fields=["points_balance", "points_earned", "updated_at"])
    return PointsResult(row)


def points_expire_due(
    *, organization: Organization | None = None, actor: Actor = SYSTEM
) -> Expired:
    """Expire what remains of every lot past its expiry, one enrolment per transaction.

    Running it again expires nothing more: each lot expires once (the database holds that too).
    """
    now = timezone.now()
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now)
    if organization is not None:
        due = due.filter(enrollment__customer__organization=organization)
    total = Expired()
    enrollment_ids = due.values_list("enrollment_id", flat=True).distinct().order_by()
    for enrollment_id in list(enrollment_ids):
        with transaction.atomic():
            locked = (
                Enrollment.objects.select_for_update(of=("self",))
                .select_related("program", "customer")
                .get(pk=enrollment_id)
            )
            expired = _expire_due_lots(locked, now, actor)
        total.lots += expired.lots
        total.points += expired.points
    return total


def referral_reward(
    *, organization: Organization, referee: Customer, referrer: Customer, actor: Actor
) -> list[SideEffect]:
    """Give the referral points of each programme the new member joined, to both sides.

    The referrer is rewarded in the programmes they are enrolled in too. Each award's reference
    names the referee, so the same referral is never paid twice.
    """
    side_effects: list[SideEffect] = []
    reference = f"referral:{referee.public_id}"
    # An erased referrer is rewarded no more (a merged one's code finds the survivor).
    rewarded = [] if customer_is_closed(referrer) else referrer.enrollments.all()
    referrer_enrollments = {e.program_id: e for e in rewarded}
    for enrollment in referee.enrollments.select_related("program"):
        program = enrollment.program
        beneficiaries = [(enrollment, program.referee_points)]
        if program.pk in referrer_enrollments:
            beneficiaries.append((referrer_enrollments[program.pk], program.referrer_points))
        for beneficiary, amount in beneficiaries:
            if amount and not beneficiary.points_transactions.filter(reference=reference).exists():
                award = points_award(
                    organization=organization,
                    enrollment=beneficiary,
                    points=amount,
                    reason="Referral",
                    reference=reference,
                    actor=actor,
                )
                side_effects.extend(award.side_effects)
    return side_effects


# --- coupons -----------------------------------------------------------------------------------


def _coupon_valid_till(series: CouponSeries, issued_at: dt.datetime) -> dt.datetime | None:
    ends = []
    if series.valid_days is not None:
        last_day = issued_at.astimezone(dt.UTC).date() + dt.timedelta(days=series.valid_days)
        ends.append(dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=dt.UTC))
    if series.valid_until is not None:
        ends.append(series.valid_until)
    return min(ends) if ends else None


@transaction.atomic
def coupon_issue(
    *, organization: Organization, series: CouponSeries, customer: Customer, actor: Actor
) -> CouponResult:
    _require_tenant(series.organization_id, organization, "series")
    _require_tenant(customer.organization_id, organization, "customer")
    customer_refuse_closed(customer)
    now = timezone.now()
    if not series.active or (series.valid_until is not None and series.valid_until <= now):
        raise DomainError(
            ErrorCode.INACTIVE, f"{series.description!r} is not issued any more.", field="series"
        )
    while True:
        try:
            with transaction.atomic():
                coupon = Coupon.objects.create(
                    organization=organization,
                    series=series,
                    customer=customer,
                    issued_at=now,
                    valid_till=_coupon_valid_till(series, now),
                )
            break
        except IntegrityError:
            continue  # the random code was taken: draw another
    audit.record(
        customer,
        subject="coupon",
        action="issued",
        changes={series.description: (None, coupon.code)},
        actor=actor,
    )
    return CouponResult(
        coupon,
        [
            CouponIssued(
                coupon_id=coupon.pk,
                code=coupon.code,
                description=series.description,
                discount_code=series.discount_code,
                valid_till=coupon.valid_till,
            )
        ],
    )


@transaction.atomic
def coupon_redeem(*, organization: Organization, code: str, actor: Actor) -> Coupon:
    """Mark the coupon used; an unknown, expired or already used coupon is refused."""
    coupon = (
        Coupon.objects.select_for_update()
        .filter(organization=organization, code=str(code).strip().upper())
        .first()
    )
    if coupon is None:
        raise DomainError(ErrorCode.COUPON_UNKNOWN, f"No coupon {code!r}.", field="code")
    customer_refuse_closed(coupon.customer)
    now = timezone.now()
    if coupon.redeemed_at is not None:
        raise DomainError(
            ErrorCode.COUPON_REDEEMED,
            f"Coupon {coupon.code} was already redeemed at {coupon.redeemed_at:%Y-%m-%d %H:%M}.",
            field="code",
        )
    if coupon.valid_till is not None and coupon.valid_till < now:
        raise DomainError(
            ErrorCode.COUPON_EXPIRED, f"Coupon {coupon.code} has expired.", field="code"
        )
    coupon.redeemed_at = now
    coupon.save(update_fields=["redeemed_at"])
    audit.record(
        coupon.customer,
        subject="coupon",
        action="redeemed",
        changes={f"coupon {coupon.code}: redeemed": (None, now)},
        actor=actor,
    )
    return coupon


# --- stamp cards -------------------------------------------------------------------------------


@transaction.atomic
def card_enroll(
    *, organization: Organization, customer: Customer, stamp_card: StampCard, actor: Actor
) -> CardResult:
    """Issue the customer a card with a fresh code, and give the template's welcome stamps."""
    _require_tenant(customer.organization_id, organization, "customer")
    _require_tenant(stamp_card.organization_id, organization, "stamp_card")
    customer_refuse_closed(customer)
    if not stamp_card.active:
        raise DomainError(
            ErrorCode.INACTIVE, f"{stamp_card.name!r} is not active.", field="stamp_card"
        )
    held = CustomerCard.objects.filter(customer=customer, stamp_card=stamp_card)
    already = DomainError(
        ErrorCode.ALREADY_ENROLLED,
        f"The customer already has a {stamp_card.name!r} card.",
        field="stamp_card",
    )
    if held.exists():
        raise already
    try:
        with transaction.atomic():
            card = CustomerCard.objects.create(
                organization=organization, customer=customer, stamp_card=stamp_card
            )
    except IntegrityError:
        if held.exists():  # a concurrent call issued them the card first
            raise already from None
        raise
    audit.record(
        customer,
        subject="card",
        action="added",
        changes={stamp_card.name: (None, card.code)},
        actor=actor,
    )
    result = CardResult(card)
    if stamp_card.initial_stamps:
        welcome = _append_stamps(
            card, stamps=stamp_card.initial_stamps, actor=actor, reason="Welcome stamps"
        )
        result.side_effects.extend(welcome.side_effects)
    return result


def _lock_card(organization: Organization, card: CustomerCard) -> CustomerCard:
    locked = (
        CustomerCard.objects.select_for_update(of=("self",))
        .select_related("stamp_card")
        .get(pk=card.pk)
    )
    _require_tenant(locked.organization_id, organization, "card")
    if locked.status != CardStatus.ACTIVE:
        raise DomainError(ErrorCode.INACTIVE, f"Card {locked.code} is not active.", field="card")
    if not locked.stamp_card.active:
        raise DomainError(
            ErrorCode.INACTIVE, f"{locked.stamp_card.name!r} is not active.", field="card"
        )
    return locked


def _append_stamps(
    card: CustomerCard,
    *,
    stamps: int,
    actor: Actor,
    reward: Reward | None = None,
    kind: str | None = None,
    **extra,
) -> StampsResult:
    before = card.stamps
    kind = kind or (StampKind.REDEEM if reward else StampKind.ADD)
    row = StampTransaction.objects.create(
        card=card, kind=kind, stamps=stamps, reward=reward, actor=str(actor), **extra
    )
    CustomerCard.objects.filter(pk=card.pk).update(
        stamps=F("stamps") + stamps, updated_at=timezone.now()
    )
    card.refresh_from_db(fields=["stamps", "updated_at"])
    changes = {f"card {card.code}: stamps": (before, card.stamps)}
    if extra.get("reason"):
        changes["reason"] = (None, extra["reason"])
    audit.record(card.customer, subject="stamps", action=kind, changes=changes, actor=actor)
    result = StampsResult(row, card)
    if stamps > 0:
        result.side_effects.append(
            StampsAdded(card_code=card.code, stamps=stamps, total=card.stamps)
        )
        earned = card.stamp_card.rewards.filter(
            active=True, stamp_cost__gt=before, stamp_cost__lte=card.stamps
        )
        result.side_effects.extend(
            RewardEarned(
                card_code=card.code,
                reward_id=reward.pk,
                reward_name=reward.name,
                stamp_cost=reward.stamp_cost,
            )
            for reward in earned
        )
    return result


@transaction.atomic
def stamps_add(
    *,
    organization: Organization,
    card: CustomerCard,
    stamps: int,
    reason: str = "",
    actor: Actor,
) -> StampsResult:
    if (
        isinstance(stamps, bool)
        or not isinstance(stamps, int)
        or not 1 <= stamps <= MAX_STAMPS_PER_CALL
    ):
        raise DomainError(
            ErrorCode.AMOUNT_INVALID,
            f"Stamps must be a whole number from 1 to {MAX_STAMPS_PER_CALL}.",
            field="stamps",
        )
    locked = _lock_card(organization, card)
    customer_refuse_closed(card.customer)
    card.stamps = locked.stamps
    return _append_stamps(card, stamps=stamps, actor=actor, reason=reason)


@transaction.atomic
def reward_redeem(
    *, organization: Organization, card: CustomerCard, reward: Reward, actor: Actor
) -> StampsResult:
    locked = _lock_card(organization, card)
    customer_refuse_closed(card.customer)
    if reward.stamp_card_id != locked.stamp_card_id:
        raise DomainError(
            ErrorCode.REWARD_UNKNOWN, "The reward is not one of this card's.", field="reward"
        )
    if not reward.active:
        raise DomainError(ErrorCode.INACTIVE, f"{reward.name!r} is not active.", field="reward")
    if locked.stamps < reward.stamp_cost:
        raise DomainError(
            ErrorCode.INSUFFICIENT_STAMPS,
            f"{reward.name!r} costs {reward.stamp_cost} stamps; the card has {locked.stamps}.",
            field="reward",
        )
    card.stamps = locked.stamps
    return _append_stamps(
        card,
        stamps=-reward.stamp_cost,
        actor=actor,
        reward=reward,
        reason=f"Redeemed {reward.name}",
    )


# --- card links --------------------------------------------------------------------------------


@dataclass
class DeliveryResult:
    deliveries: list[CardLinkDelivery] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _link_addresses(customer: Customer) -> dict[str, list[str]]:
    """Where the customer may be sent links: their subscribed email and mobile channels, or,
    for a kind of channel they have none of, their own email or phone."""
    addresses: dict[str, list[str]] = {DeliveryChannel.EMAIL: [], DeliveryChannel.SMS: []}
    kinds = {"email": DeliveryChannel.EMAIL, "mobile": DeliveryChannel.SMS}
    seen_kinds = set()
    for channel in customer.channels.filter(type__in=kinds):
        seen_kinds.add(channel.type)
        if channel.subscribed:
            addresses[kinds[channel.type]].append(channel.value)
    if "email" not in seen_kinds and customer.email:
        addresses[DeliveryChannel.EMAIL].append(customer.email)
    if "mobile" not in seen_kinds and customer.phone:
        addresses[DeliveryChannel.SMS].append(customer.phone)
    return addresses


def card_links_send(
    *, organization: Organization, card: CustomerCard, actor: Actor
) -> DeliveryResult:
    """Send the card's links by email and SMS to every address that has not unsubscribed.

    A delivery row (queued) is written for each address in the caller's transaction; the messages
    go out once it commits, and each row then says sent or failed. A rolled-back transaction sends
    nothing; a failure is recorded, not raised. A customer with nowhere to send to gets a warning.
    """
    _require_tenant(card.organization_id, organization, "card")
    customer = card.customer
    customer_refuse_closed(customer)
    result = DeliveryResult()
    with transaction.atomic():
        for channel, addresses in _link_addresses(customer).items():
            result.deliveries.extend(
                CardLinkDelivery.objects.create(
                    customer=customer,
                    card=card,
                    channel=channel,
                    address=address,
                    status=DeliveryStatus.QUEUED,
                )
                for address in addresses
            )
        if not result.deliveries:
            result.warnings.append(
                "The customer has no subscribed email address or phone number to send the links to."
            )
        queued = dict.fromkeys(DeliveryChannel.values, 0)
        for delivery in result.deliveries:
            queued[delivery.channel] += 1
        audit.record(
            customer,
            subject="card",
            action="links sent",
            changes={f"card {card.code}: {channel}": (None, n) for channel, n in queued.items()},
            actor=actor,
        )
        transaction.on_commit(lambda: _card_links_deliver(card, result.deliveries), robust=True)
    return result


def _card_links_deliver(card: CustomerCard, deliveries: list[CardLinkDelivery]) -> None:
    """Send each queued delivery and record how it went (after the commit that queued them)."""
    subject, body = card_links_message(card)
    senders = {
        DeliveryChannel.EMAIL: lambda to: send_mail(
            subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False
        ),
        DeliveryChannel.SMS: lambda to: send_sms(to, body),
    }
    for delivery in deliveries:
        try:
            senders[delivery.channel](delivery.address)
        except Exception as error:
            delivery.status, delivery.detail = DeliveryStatus.FAILED, str(error)[:255]
            logger.warning("Card links to %s failed: %s", delivery.address, error)
        else:
            delivery.status = DeliveryStatus.SENT
        delivery.save(update_fields=["status", "detail"])


# --- merging two customers' loyalty ------------------------------------------------------------


@transaction.atomic
def enrollment_absorb(
    *, survivor: Enrollment, merged: Enrollment, actor: Actor
) -> TierChanged | None:
    """Move what remains of `merged`'s points into `survivor` (same programme), lot by lot so
    that each keeps its expiry; both ledgers say so. The survivor counts the merged enrolment's
    earned points too, and keeps the higher of the two tiers."""
    first, second = sorted([survivor, merged], key=lambda e: e.pk)
    locked = {
        e.pk: e
        for e in Enrollment.objects.select_for_update(of=("self",))
        .select_related("program", "customer", "tier")
        .filter(pk__in=[first.pk, second.pk])
        .order_by("pk")
    }
    into, out_of = locked[survivor.pk], locked[merged.pk]
    if into.program_id != out_of.program_id:
        raise ValueError("enrolments of different programmes cannot be combined")
    for lot in out_of.lots.filter(remaining__gt=0).order_by(
        F("expires_at").asc(nulls_last=True), "pk"
    ):
        _append_points(
            out_of,
            kind=PointsKind.TRANSFER_OUT,
            points=-lot.remaining,
            actor=actor,
            reason=f"Merged into {into.customer.public_id}",
        )
        PointsLot.objects.filter(pk=lot.pk).update(remaining=0)
        row = _append_points(
            into,
            kind=PointsKind.TRANSFER_IN,
            points=lot.remaining,
            actor=actor,
            reason=f"Merged from {out_of.customer.public_id}",
            expires_at=lot.expires_at,
        )
        PointsLot.objects.create(
            enrollment=into,
            award=row,
            points=lot.remaining,
            remaining=lot.remaining,
            expires_at=lot.expires_at,
        )
    if out_of.points_earned:
        Enrollment.objects.filter(pk=into.pk).update(
            points_earned=F("points_earned") + out_of.points_earned
        )
        into.points_earned += out_of.points_earned
    if out_of.tier is not None and (into.tier is None or out_of.tier.number > into.tier.number):
        return _change_tier(
            into, out_of.tier, out_of.tier_expires_at, TierChangeReason.MERGE, actor
        )
    return _promote(into, actor)


@transaction.atomic
def card_absorb(*, survivor: CustomerCard, merged: CustomerCard, actor: Actor) -> None:
    """Move `merged`'s stamps onto `survivor` (same stamp card), on both ledgers, and retire
    the merged card."""
    first, second = sorted([survivor, merged], key=lambda c: c.pk)
    locked = {
        c.pk: c
        for c in CustomerCard.objects.select_for_update(of=("self",))
        .select_related("stamp_card", "customer")
        .filter(pk__in=[first.pk, second.pk])
        .order_by("pk")
    }
    into, out_of = locked[survivor.pk], locked[merged.pk]
    if into.stamp_card_id != out_of.stamp_card_id:
        raise ValueError("cards of different stamp cards cannot be combined")
    if out_of.stamps:
        moved = out_of.stamps
        _append_stamps(
            out_of,
            stamps=-moved,
            actor=actor,
            kind=StampKind.ADJUST,
            reason=f"Merged into card {into.code}",
        )
        _append_stamps(
            into,
            stamps=moved,
            actor=actor,
            kind=StampKind.ADJUST,
            reason=f"Merged from card {out_of.code}",
        )
    CustomerCard.objects.filter(pk=out_of.pk).update(
        status=CardStatus.INACTIVE, updated_at=timezone.now()
    )


# --- configuration: coupon series, programmes and tiers, stamp cards and rewards ---------------
#
# Each change is recorded in the configuration audit trail. What the database would refuse
# (a taken name, another organization's row, a negative count) is refused first as a DomainError
# naming the field.

COUPON_SERIES_FIELDS = ("description", "discount_code", "valid_days", "valid_until", "active")
PROGRAM_FIELDS = (
    "name",
    "description",
    "active",
    "welcome_points",
    "welcome_coupon_series",
    "referrer_points",
    "referee_points",
)
TIER_FIELDS = ("program", "number", "name", "points_threshold")
STAMP_CARD_FIELDS = ("name", "store", "initial_stamps", "active")
REWARD_FIELDS = ("stamp_card", "name", "stamp_cost", "active")


def _required_text(value: str, model, name: str) -> str:
    text = clean_text(value, max_length=model._meta.get_field(name).max_length, field=name)
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "This field is required.", field=name)
    return text


MAX_COUNT = 2**31 - 1  # what a positive integer column holds on every database


def _check_count(value: int | None, *, field: str, minimum: int = 0, optional: bool = False):
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_COUNT:
        raise DomainError(
            ErrorCode.INVALID,
            f"A whole number from {minimum} to {MAX_COUNT} is needed.",
            field=field,
        )


def _delete_config(row, fields, actor: Actor, *, in_use: str, cascaded=()) -> None:
    """Deletes `row` and the rows in `cascaded` that go with it, each on record; a row that
    ledgers or customers' rows refer to stays (`in_use` says why)."""
    for child, child_fields in cascaded:
        config_audit.record_deleted(child, child_fields, actor=actor)
    config_audit.record_deleted(row, fields, actor=actor)
    try:
        row.delete()
    except ProtectedError:
        raise DomainError(ErrorCode.IN_USE, in_use) from None


def coupon_series_validate(
    *,
    description: str,
    discount_code: str,
    valid_days: int | None,
    valid_until: dt.datetime | None,
) -> tuple[str, str]:
    """The description and discount code, cleaned."""
    description = _required_text(description, CouponSeries, "description")
    discount_code = _required_text(discount_code, CouponSeries, "discount_code")
    _check_count(valid_days, field="valid_days", optional=True)
    if valid_until is not None and timezone.is_naive(valid_until):
        raise DomainError(ErrorCode.INVALID, "A time zone is needed.", field="valid_until")
    return description, discount_code


@transaction.atomic
def coupon_series_create(
    *,
    organization: Organization,
    description: str,
    discount_code: str = "NO_VALUE",
    valid_days: int | None = None,
    valid_until: dt.datetime | None = None,
    active: bool = True,
    actor: Actor = SYSTEM,
) -> CouponSeries:
    description, discount_code = coupon_series_validate(
        description=description,
        discount_code=discount_code,
        valid_days=valid_days,
        valid_until=valid_until,
    )
    series = CouponSeries.objects.create(
        organization=organization,
        description=description,
        discount_code=discount_code,
        valid_days=valid_days,
        valid_until=valid_until,
        active=active,
    )
    config_audit.record_created(series, COUPON_SERIES_FIELDS, actor=actor)
    return series


@transaction.atomic
def coupon_series_update(
    *,
    series: CouponSeries,
    description: str,
    discount_code: str,
    valid_days: int | None,
    valid_until: dt.datetime | None,
    active: bool,
    actor: Actor = SYSTEM,
) -> CouponSeries:
    """Coupons already issued keep their validity."""
    description, discount_code = coupon_series_validate(
        description=description,
        discount_code=discount_code,
        valid_days=valid_days,
        valid_until=valid_until,
    )
    before = config_audit.values_of(series, COUPON_SERIES_FIELDS)
    series.description, series.discount_code = description, discount_code
    series.valid_days, series.valid_until, series.active = valid_days, valid_until, active
    return config_audit.save_changed(series, before, actor=actor)


@transaction.atomic
def coupon_series_delete(*, series: CouponSeries, actor: Actor = SYSTEM) -> None:
    _delete_config(
        series,
        COUPON_SERIES_FIELDS,
        actor,
        in_use=f"Coupons of {series.description!r} were issued, or a programme gives them.",
    )


def program_validate(
    *,
    organization: Organization,
    name: str,
    welcome_points: int,
    welcome_coupon_series: CouponSeries | None,
    referrer_points: int,
    referee_points: int,
    program: Program | None = None,
) -> str:
    """The programme's name, cleaned: the organization's only programme of that name.
    `program` is the one being changed."""
    name = _required_text(name, Program, "name")
    for points, field_name in (
        (welcome_points, "welcome_points"),
        (referrer_points, "referrer_points"),
        (referee_points, "referee_points"),
    ):
        _check_count(points, field=field_name)
    if welcome_coupon_series is not None:
        _require_tenant(
            welcome_coupon_series.organization_id, organization, "welcome_coupon_series"
        )
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
    actor: Actor = SYSTEM,
) -> Program:
    name = program_validate(
        organization=organization,
        name=name,
        welcome_points=welcome_points,
        welcome_coupon_series=welcome_coupon_series,
        referrer_points=referrer_points,
        referee_points=referee_points,
    )
    try:
        with transaction.atomic():
            program = Program.objects.create(
                organization=organization,
                name=name,
                description=description,
                active=active,
                welcome_points=welcome_points,
                welcome_coupon_series=welcome_coupon_series,
                referrer_points=referrer_points,
                referee_points=referee_points,
            )
            config_audit.record_created(program, PROGRAM_FIELDS, actor=actor)
    except IntegrityError:
        raise DomainError(
            ErrorCode.PROGRAM_TAKEN,
            f"The organization already has a programme {name!r}.",
            field="name",
        ) from None
    return program


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
    actor: Actor = SYSTEM,
) -> Program:
    """Enrolments already made keep what they were given."""
    name = program_validate(
        organization=program.organization,
        name=name,
        welcome_points=welcome_points,
        welcome_coupon_series=welcome_coupon_series,
        referrer_points=referrer_points,
        referee_points=referee_points,
        program=program,
    )
    before = config_audit.values_of(program, PROGRAM_FIELDS)
    program.name, program.description, program.active = name, description, active
    program.welcome_points, program.welcome_coupon_series = welcome_points, welcome_coupon_series
    program.referrer_points, program.referee_points = referrer_points, referee_points
    return config_audit.save_changed(program, before, actor=actor)


@transaction.atomic
def program_delete(*, program: Program, actor: Actor = SYSTEM) -> None:
    """A programme goes with its tiers; one that customers are enrolled in stays."""
    _delete_config(
        program,
        PROGRAM_FIELDS,
        actor,
        in_use=f"Customers are enrolled in {program.name!r}.",
        cascaded=[(tier, TIER_FIELDS) for tier in program.tiers.all()],
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
    _check_count(number, field="number", minimum=1)
    name = _required_text(name, Tier, "name")
    _check_count(points_threshold, field="points_threshold", optional=True)
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
    tier = Tier.objects.create(
        program=program, number=number, name=name, points_threshold=points_threshold
    )
    config_audit.record_created(tier, TIER_FIELDS, actor=actor)
    return tier


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
    before = config_audit.values_of(tier, ["number", "name", "points_threshold"])
    tier.number, tier.name, tier.points_threshold = number, name, points_threshold
    return config_audit.save_changed(tier, before, actor=actor)


@transaction.atomic
def tier_delete(*, tier: Tier, actor: Actor = SYSTEM) -> None:
    _delete_config(
        tier, TIER_FIELDS, actor, in_use=f"Members are or were in the tier {tier.name!r}."
    )


def stamp_card_validate(
    *, organization: Organization, name: str, store, initial_stamps: int
) -> str:
    """The stamp card's name, cleaned; its store, if any, is the organization's."""
    name = _required_text(name, StampCard, "name")
    if store is not None:
        _require_tenant(store.organization_id, organization, "store")
    _check_count(initial_stamps, field="initial_stamps")
    return name


@transaction.atomic
def stamp_card_create(
    *,
    organization: Organization,
    name: str,
    store=None,
    initial_stamps: int = 0,
    active: bool = True,
    actor: Actor = SYSTEM,
) -> StampCard:
    name = stamp_card_validate(
        organization=organization, name=name, store=store, initial_stamps=initial_stamps
    )
    stamp_card = StampCard.objects.create(
        organization=organization,
        name=name,
        store=store,
        initial_stamps=initial_stamps,
        active=active,
    )
    config_audit.record_created(stamp_card, STAMP_CARD_FIELDS, actor=actor)
    return stamp_card


@transaction.atomic
def stamp_card_update(
    *,
    stamp_card: StampCard,
    name: str,
    store,
    initial_stamps: int,
    active: bool,
    actor: Actor = SYSTEM,
) -> StampCard:
    """Cards already issued keep their stamps."""
    name = stamp_card_validate(
        organization=stamp_card.organization,
        name=name,
        store=store,
        initial_stamps=initial_stamps,
    )
    before = config_audit.values_of(stamp_card, STAMP_CARD_FIELDS)
    stamp_card.name, stamp_card.store = name, store
    stamp_card.initial_stamps, stamp_card.active = initial_stamps, active
    return config_audit.save_changed(stamp_card, before, actor=actor)


@transaction.atomic
def stamp_card_delete(*, stamp_card: StampCard, actor: Actor = SYSTEM) -> None:
    """A stamp card goes with its rewards; one that customers hold stays."""
    _delete_config(
        stamp_card,
        STAMP_CARD_FIELDS,
        actor,
        in_use=f"Customers hold {stamp_card.name!r} cards.",
        cascaded=[(reward, REWARD_FIELDS) for reward in stamp_card.rewards.all()],
    )


def reward_validate(*, name: str, stamp_cost: int) -> str:
    """The reward's name, cleaned."""
    _check_count(stamp_cost, field="stamp_cost", minimum=1)
    return _required_text(name, Reward, "name")


@transaction.atomic
def reward_create(
    *,
    stamp_card: StampCard,
    name: str,
    stamp_cost: int,
    active: bool = True,
    actor: Actor = SYSTEM,
) -> Reward:
    name = reward_validate(name=name, stamp_cost=stamp_cost)
    reward = Reward.objects.create(
        stamp_card=stamp_card, name=name, stamp_cost=stamp_cost, active=active
    )
    config_audit.record_created(reward, REWARD_FIELDS, actor=actor)
    return reward


@transaction.atomic
def reward_update(
    *, reward: Reward, name: str, stamp_cost: int, active: bool, actor: Actor = SYSTEM
) -> Reward:
    """Rewards already redeemed keep what they cost."""
    name = reward_validate(name=name, stamp_cost=stamp_cost)
    before = config_audit.values_of(reward, ["name", "stamp_cost", "active"])
    reward.name, reward.stamp_cost, reward.active = name, stamp_cost, active
    return config_audit.save_changed(reward, before, actor=actor)


@transaction.atomic
def reward_delete(*, reward: Reward, actor: Actor = SYSTEM) -> None:
    _delete_config(reward, REWARD_FIELDS, actor, in_use=f"{reward.name!r} was redeemed.")
