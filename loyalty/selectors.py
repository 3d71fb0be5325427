"""Reads of loyalty data."""

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db.models import Prefetch, QuerySet

from crm.errors import DomainError, ErrorCode
from crm.models import Organization

from .models import CustomerCard, Reward


def cards_with_rewards() -> QuerySet[CustomerCard]:
    """Cards with what their progress and wallet passes show, in a fixed number of queries."""
    return CustomerCard.objects.select_related(
        "stamp_card", "customer", "organization"
    ).prefetch_related(
        Prefetch(
            "stamp_card__rewards",
            queryset=Reward.objects.filter(active=True).order_by("stamp_cost", "pk"),
            to_attr="active_rewards",
        )
    )


def card_get(*, organization: Organization, code: str) -> CustomerCard:
    card = cards_with_rewards().filter(organization=organization, code=str(code).upper()).first()
    if card is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No card {code!r}.", field="card")
    return card


def card_by_link_token(token: str) -> CustomerCard | None:
    return cards_with_rewards().filter(link_token=token).first()


class RewardView(NamedTuple):
    pk: int
    name: str
    stamp_cost: int


@dataclass(frozen=True)
class StampProgress:
    stamps: int
    goal: int  # the stamps the dearest active reward costs (at least one)
    rewards: list[RewardView]  # the active ones, cheapest first
    redeemable: list[RewardView]
    next_reward: RewardView | None

    @property
    def filled(self) -> int:
        return min(self.stamps, self.goal)

    @property
    def empty(self) -> int:
        return self.goal - self.filled

    @property
    def slots(self) -> list[bool]:
        """One entry a stamp of the goal: True where the card has it."""
        return [True] * self.filled + [False] * self.empty


def stamp_progress(stamps: int, active_rewards: list[RewardView]) -> StampProgress:
    """Where a card with `stamps` stands: the rewards it can redeem now and the next to reach.

    The rewards a card can redeem are the active rewards whose cost is within its stamps.
    """
    rewards = sorted(active_rewards, key=lambda reward: (reward.stamp_cost, reward.pk))
    return StampProgress(
        stamps=stamps,
        goal=max([1, *(reward.stamp_cost for reward in rewards)]),
        rewards=rewards,
        redeemable=[reward for reward in rewards if reward.stamp_cost <= stamps],
        next_reward=next((r for r in rewards if r.stamp_cost > stamps), None),
    )


@dataclass(frozen=True)
class CardView:
    """A customer card as it is shown: by the API, the card page and the wallet passes."""

    code: str
    link_token: str
    stamp_card_id: int
    stamp_card_name: str
    stamps: int
    status: str
    created_at: datetime
    active_rewards: list[RewardView]

    @property
    def progress(self) -> StampProgress:
        return stamp_progress(self.stamps, self.active_rewards)


def card_view(card: CustomerCard) -> CardView:
    rewards = getattr(card.stamp_card, "active_rewards", None)
    if rewards is None:
        rewards = card.stamp_card.rewards.filter(active=True)
    return CardView(
        code=card.code,
        link_token=card.link_token,
        stamp_card_id=card.stamp_card_id,
        stamp_card_name=card.stamp_card.name,
        stamps=card.stamps,
        status=card.status,
        created_at=card.created_at,
        active_rewards=[RewardView(r.pk, r.name, r.stamp_cost) for r in rewards],
    )
