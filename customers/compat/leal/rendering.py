"""Leal's replies: customers, their cards, redemptions, templates, rewards, and its errors."""

import re
from math import ceil

from crm.api.rendering import iso
from crm.errors import ErrorCode
from crm.models import Store
from customers.models import Customer
from loyalty.links import apple_wallet_url, google_wallet_url
from loyalty.models import CustomerCard, Reward, StampCard
from loyalty.selectors import card_view
from loyalty.services.stamp_cards import DESIGN_FIELDS
from loyalty.services.stamps import StampsResult

FIELD_NAMES = [
    (r"^stamp_card_ids\[\d+\]$", "card_id"),
    (r"^stamp_card$", "card_id"),
    (r"^reward$", "reward_id"),
    (r"^card$", "id"),
]


def leal_field(field: str | None) -> str:
    field = field or "base"
    for ours, theirs in FIELD_NAMES:
        field = re.sub(ours, theirs, field)
    return field


# Leal words a taken email or phone as Rails does; its clients may match on the words.
TAKEN = "has already been taken"
TAKEN_CODES = {ErrorCode.EMAIL_TAKEN, ErrorCode.PHONE_TAKEN}


def validation_failed(message: str, field: str | None, code: str | None = None) -> dict:
    if code in TAKEN_CODES:
        message = TAKEN
    return {"error": "Validation failed", "errors": {leal_field(field): [message]}}


def query_refused(message: str, parameter: str) -> dict:
    return {"error": "Invalid query parameters", "errors": {parameter: [message]}}


def error_body(message: str) -> dict:
    return {"error": message}


def render_card(card: CustomerCard, store: Store, *, full: bool = True) -> dict:
    view = card_view(card)
    progress = view.progress
    rendered = {
        "id": card.pk,
        "uuid": card.link_token,
        "account_id": store.pk,
        "customer_id": card.customer_id,
        "card_id": card.stamp_card_id,
        "card_name": view.stamp_card_name,
        "stamps_count": card.stamps,
        "stamps_remaining": progress.empty,
        "progress_percentage": progress.filled * 100 // progress.goal,
        "available_rewards": [
            {"id": reward.pk, "name": reward.name, "stamps_required": reward.stamp_cost}
            for reward in progress.redeemable
        ],
        "status": card.status,
        "pass_installed": False,
        "apple_wallet_url": apple_wallet_url(card),
        "google_wallet_url": google_wallet_url(card),
        "issued_at": iso(card.created_at),
        "created_at": iso(card.created_at),
        "updated_at": iso(card.updated_at),
    }
    if not full:
        for name in ("account_id", "customer_id", "available_rewards"):
            del rendered[name]
    return rendered


def render_customer(customer: Customer, store: Store, *, full: bool = True) -> dict:
    cards = list(customer.cards.all())
    return {
        "id": customer.pk,
        "account_id": store.pk,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "phone": customer.phone,
        "birthday": customer.birthday.isoformat() if customer.birthday else None,
        "stamp_count": sum(card.stamps for card in cards),
        "metadata": customer.custom_fields,
        "external_references": [
            {"source": i.source, "external_id": i.value, "metadata": {}}
            for i in customer.identifiers.all()
        ],
        "customer_cards": [render_card(card, store, full=full) for card in cards],
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
    }


def customers_page(customers, store: Store, *, count: int, page: int, items: int) -> dict:
    return {
        "customers": [render_customer(c, store, full=False) for c in customers],
        "pagination": {
            "count": count,
            "items": items,
            "page": page,
            "pages": max(1, ceil(count / items)),
        },
    }


def redeemed(result: StampsResult, reward: Reward, card: CustomerCard, store: Store) -> dict:
    """`card` as it is after the redemption, loaded with its rewards."""
    redemption = result.transaction
    return {
        "success": True,
        "redemption": {
            "id": redemption.pk,
            "redeemed_at": iso(redemption.created_at),
            "reward_id": reward.pk,
            "reward_name": reward.name,
            "stamps_remaining": result.card.stamps,
            "stamps_spent": reward.stamp_cost,
        },
        "customer_card": render_card(card, store),
    }


def render_template(card: StampCard) -> dict:
    """A card template; `card` comes from queries.active_templates."""
    return {
        "id": card.pk,
        "name": card.name,
        "stamps_required": max([1, *(r.stamp_cost for r in card.rewards.all() if r.active)]),
        "initial_stamps": card.initial_stamps,
        "archived_at": None,
        "expires_at": None,
        "rewards_count": sum(1 for r in card.rewards.all() if r.active),
        "customer_cards_count": card.customer_cards_count,
        **{name: getattr(card, name) for name in DESIGN_FIELDS},
        "created_at": iso(card.created_at),
        "updated_at": iso(card.updated_at),
    }


def render_rewards(rewards, store: Store, *, only_active: bool | None) -> list[dict]:
    """`rewards` by card and cost, each with its rank within its card; `only_active` filters."""
    positions: dict[int, int] = {}
    rendered = []
    for reward in rewards:
        positions[reward.stamp_card_id] = positions.get(reward.stamp_card_id, 0) + 1
        if only_active is not None and reward.active != only_active:
            continue
        rendered.append(
            {
                "id": reward.pk,
                "account_id": store.pk,
                "card_id": reward.stamp_card_id,
                "name": reward.name,
                "description": "",
                "stamps_required": reward.stamp_cost,
                "position": positions[reward.stamp_card_id],
                "active": reward.active,
                "created_at": iso(reward.created_at),
                "updated_at": iso(reward.updated_at),
            }
        )
    return rendered
