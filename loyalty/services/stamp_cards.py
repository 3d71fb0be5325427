"""Configuring stamp cards and their rewards."""

from django.db import transaction

from crm.actors import SYSTEM, Actor
from crm.models import Organization

from ..models import Reward, StampCard
from .common import require_tenant
from .configuration import check_count, config_create, config_delete, config_update, required_text

STAMP_CARD_FIELDS = ("name", "store", "initial_stamps", "active")
REWARD_FIELDS = ("stamp_card", "name", "stamp_cost", "active")


def stamp_card_validate(
    *, organization: Organization, name: str, store, initial_stamps: int
) -> str:
    """The stamp card's name, cleaned; its store, if any, is the organization's."""
    name = required_text(name, StampCard, "name")
    if store is not None:
        require_tenant(store.organization_id, organization, "store")
    check_count(initial_stamps, field="initial_stamps")
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
    return config_create(
        StampCard,
        STAMP_CARD_FIELDS,
        actor=actor,
        organization=organization,
        name=name,
        store=store,
        initial_stamps=initial_stamps,
        active=active,
    )


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
    return config_update(
        stamp_card,
        actor=actor,
        name=name,
        store=store,
        initial_stamps=initial_stamps,
        active=active,
    )


@transaction.atomic
def stamp_card_delete(*, stamp_card: StampCard, actor: Actor = SYSTEM) -> None:
    """A stamp card goes with its rewards; one that customers hold stays."""
    config_delete(
        stamp_card,
        STAMP_CARD_FIELDS,
        actor,
        in_use=f"Customers hold {stamp_card.name!r} cards.",
        cascaded=[(reward, REWARD_FIELDS) for reward in stamp_card.rewards.all()],
    )


def reward_validate(*, name: str, stamp_cost: int) -> str:
    """The reward's name, cleaned."""
    check_count(stamp_cost, field="stamp_cost", minimum=1)
    return required_text(name, Reward, "name")


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
    return config_create(
        Reward,
        REWARD_FIELDS,
        actor=actor,
        stamp_card=stamp_card,
        name=name,
        stamp_cost=stamp_cost,
        active=active,
    )


@transaction.atomic
def reward_update(
    *, reward: Reward, name: str, stamp_cost: int, active: bool, actor: Actor = SYSTEM
) -> Reward:
    """Rewards already redeemed keep what they cost."""
    name = reward_validate(name=name, stamp_cost=stamp_cost)
    return config_update(reward, actor=actor, name=name, stamp_cost=stamp_cost, active=active)


@transaction.atomic
def reward_delete(*, reward: Reward, actor: Actor = SYSTEM) -> None:
    config_delete(reward, REWARD_FIELDS, actor, in_use=f"{reward.name!r} was redeemed.")
