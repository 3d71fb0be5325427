"""Stamp cards held by customers: issuing one, adding stamps, redeeming a reward.

The stamps change only together with the ledger row that explains them, under a row lock on the
card; each call reports the stamps added and the rewards they earned as side effects.
"""

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers import audit
from customers.closure import customer_refuse_closed
from customers.models import Customer
from customers.services.registration import ServiceWarning
from customers.services.status_labels import may_earn

from ..choices import CardStatus, StampKind
from ..models import CustomerCard, Reward, StampCard, StampTransaction
from ..side_effects import RewardEarned, SideEffect, StampsAdded
from .common import refuse_earning_blocked, refuse_spending_blocked, require_tenant
from .points import earning_skipped

MAX_STAMPS_PER_CALL = 100


@dataclass
class CardResult:
    card: CustomerCard
    side_effects: list[SideEffect] = field(default_factory=list)
    warnings: list[ServiceWarning] = field(default_factory=list)


@dataclass
class StampsResult:
    transaction: StampTransaction
    card: CustomerCard
    side_effects: list[SideEffect] = field(default_factory=list)


@transaction.atomic
def card_enroll(
    *, organization: Organization, customer: Customer, stamp_card: StampCard, actor: Actor
) -> CardResult:
    """Issue the customer a card with a fresh code, and give the template's welcome stamps
    (not to a customer whose status label blocks earning: a warning says so)."""
    require_tenant(customer.organization_id, organization, "customer")
    require_tenant(stamp_card.organization_id, organization, "stamp_card")
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
    if stamp_card.initial_stamps and not may_earn(customer):
        result.warnings.append(earning_skipped(customer, "Welcome stamps"))
    elif stamp_card.initial_stamps:
        welcome = append_stamps(
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
    require_tenant(locked.organization_id, organization, "card")
    if locked.status != CardStatus.ACTIVE:
        raise DomainError(ErrorCode.INACTIVE, f"Card {locked.code} is not active.", field="card")
    if not locked.stamp_card.active:
        raise DomainError(
            ErrorCode.INACTIVE, f"{locked.stamp_card.name!r} is not active.", field="card"
        )
    return locked


def append_stamps(
    card: CustomerCard,
    *,
    stamps: int,
    actor: Actor,
    reward: Reward | None = None,
    kind: str | None = None,
    **extra,
) -> StampsResult:
    """Write a ledger row of `stamps` on the locked card, on record, move its stamps by as much,
    and report the stamps added and the rewards they earned."""
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
    refuse_earning_blocked(card.customer)
    card.stamps = locked.stamps
    return append_stamps(card, stamps=stamps, actor=actor, reason=reason)


@transaction.atomic
def reward_redeem(
    *, organization: Organization, card: CustomerCard, reward: Reward, actor: Actor
) -> StampsResult:
    locked = _lock_card(organization, card)
    customer_refuse_closed(card.customer)
    refuse_spending_blocked(card.customer)
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
    return append_stamps(
        card,
        stamps=-reward.stamp_cost,
        actor=actor,
        reward=reward,
        reason=f"Redeemed {reward.name}",
    )
