"""Configuring stamp cards and their rewards."""

import re
from typing import Any

from django.db import transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.normalization import clean_text

from ..choices import StripType
from ..models import Reward, StampCard
from .common import require_tenant
from .configuration import check_count, config_create, config_delete, config_update, required_text

COLOR_FIELDS = ("card_color", "text_color", "stamp_color", "stamp_background_color", "strip_color")
OPTIONAL_TEXT_FIELDS = ("header_text", "strip_preset")
FLAG_FIELDS = ("show_member_field", "show_stamps_to_reward_field")
# How the card's passes look; each is optional, and takes the model's default when not given.
DESIGN_FIELDS = (
    *COLOR_FIELDS,
    "stamp_icon",
    *OPTIONAL_TEXT_FIELDS,
    "strip_type",
    "strip_opacity",
    *FLAG_FIELDS,
    "auxiliary_fields",
)
STAMP_CARD_FIELDS = ("name", "store", "initial_stamps", "active", *DESIGN_FIELDS)
REWARD_FIELDS = ("stamp_card", "name", "stamp_cost", "active")
MAX_AUXILIARY_FIELDS = 2
MAX_AUXILIARY_LENGTH = 100


def invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field=field)


def auxiliary_fields_clean(value: Any) -> list[str]:
    """Up to two texts; blank ones are dropped, as Leal drops them."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
        raise invalid("auxiliary_fields", "A list of texts is needed.")
    texts = [text.strip() for text in value if text.strip()]
    if len(texts) > MAX_AUXILIARY_FIELDS:
        raise invalid("auxiliary_fields", f"At most {MAX_AUXILIARY_FIELDS} texts.")
    if any(len(text) > MAX_AUXILIARY_LENGTH for text in texts):
        raise invalid(
            "auxiliary_fields", f"Each text is at most {MAX_AUXILIARY_LENGTH} characters."
        )
    return texts


def card_design_clean(design: dict[str, Any]) -> dict[str, Any]:
    """The design values given, cleaned; a value that is not one names its field."""
    unknown = set(design) - set(DESIGN_FIELDS)
    if unknown:
        raise TypeError(f"Not design fields of a stamp card: {sorted(unknown)}")
    cleaned = dict(design)
    for name in COLOR_FIELDS:
        if name in design:
            color = design[name]
            if not isinstance(color, str) or not re.fullmatch(r"#[0-9A-Fa-f]{6}", color.strip()):
                raise invalid(name, "A colour as #RRGGBB is needed.")
            cleaned[name] = color.strip().upper()
    if "stamp_icon" in design:
        cleaned["stamp_icon"] = required_text(design["stamp_icon"], StampCard, "stamp_icon")
    for name in OPTIONAL_TEXT_FIELDS:
        if name in design:
            max_length = StampCard._meta.get_field(name).max_length
            cleaned[name] = clean_text(design[name] or "", max_length=max_length, field=name)
    for name in FLAG_FIELDS:
        if name in design and not isinstance(design[name], bool):
            raise invalid(name, "true or false is needed.")
    if "strip_type" in design and design["strip_type"] not in StripType.values:
        raise invalid("strip_type", f"One of {', '.join(StripType.values)} is needed.")
    if "strip_opacity" in design:
        check_count(design["strip_opacity"], field="strip_opacity")
        if design["strip_opacity"] > 100:
            raise invalid("strip_opacity", "A percentage from 0 to 100 is needed.")
    if "auxiliary_fields" in design:
        cleaned["auxiliary_fields"] = auxiliary_fields_clean(design["auxiliary_fields"])
    return cleaned


def stamp_card_validate(
    *, organization: Organization, name: str, store, initial_stamps: int, **design
) -> tuple[str, dict[str, Any]]:
    """The stamp card's name and design, cleaned; its store, if any, is the organization's."""
    name = required_text(name, StampCard, "name")
    if store is not None:
        require_tenant(store.organization_id, organization, "store")
    check_count(initial_stamps, field="initial_stamps")
    return name, card_design_clean(design)


@transaction.atomic
def stamp_card_create(
    *,
    organization: Organization,
    name: str,
    store=None,
    initial_stamps: int = 0,
    active: bool = True,
    actor: Actor = SYSTEM,
    **design,
) -> StampCard:
    """`design` takes any of DESIGN_FIELDS; those not given take their defaults."""
    name, design = stamp_card_validate(
        organization=organization, name=name, store=store, initial_stamps=initial_stamps, **design
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
        **design,
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
    **design,
) -> StampCard:
    """Cards already issued keep their stamps; design fields not given stay as they are."""
    name, design = stamp_card_validate(
        organization=stamp_card.organization,
        name=name,
        store=store,
        initial_stamps=initial_stamps,
        **design,
    )
    return config_update(
        stamp_card,
        actor=actor,
        name=name,
        store=store,
        initial_stamps=initial_stamps,
        active=active,
        **design,
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
