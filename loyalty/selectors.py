"""Reads of loyalty data."""

import datetime as dt
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db.models import DateField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.models import Customer

from .choices import PointsKind
from .models import CustomerCard, PointsTransaction, Program, Reward
from .returns import Return
from .services.purchase_input import in_minor_units
from .transactions import Transaction


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


# --- purchases ---------------------------------------------------------------------------------


def customer_purchases(customer: Customer) -> QuerySet[Transaction]:
    """The customer's purchases, newest first, each with its store, `points` (what it earned, in
    every programme) and its returns, oldest first, each with `points` (what it took back, as a
    negative number); in two queries however many there are."""
    earned = (
        PointsTransaction.objects.filter(purchase=OuterRef("pk"), kind=PointsKind.AWARD)
        .order_by()
        .values("purchase")
        .annotate(total=Sum("points"))
        .values("total")
    )
    taken_back = (
        PointsTransaction.objects.filter(purchase_return=OuterRef("pk"))
        .order_by()
        .values("purchase_return")
        .annotate(total=Sum("points"))
        .values("total")
    )
    returns = Return.objects.annotate(points=Coalesce(Subquery(taken_back), Value(0))).order_by(
        "occurred_at", "pk"
    )
    return (
        Transaction.objects.filter(customer=customer)
        .select_related("store")
        .annotate(points=Coalesce(Subquery(earned), Value(0)))
        .prefetch_related(Prefetch("returns", returns))
        .order_by("-occurred_at", "-pk")
    )


# --- a programme's points by month -------------------------------------------------------------

REPORT_MONTHS = 12


@dataclass(frozen=True)
class MonthPoints:
    month: dt.date  # its first day
    issued: int  # awards
    redeemed: int  # deductions, as a positive number
    expired: int  # as a positive number
    outstanding: int  # the programme's balance at the month's end


@dataclass(frozen=True)
class PointsReport:
    program: Program
    months: list[MonthPoints]  # oldest first, ending with the current month
    outstanding: int  # now

    @property
    def liability(self) -> Decimal | None:
        """What the points outstanding are worth, to the currency's minor unit (half up); None
        when the value of a point is not configured."""
        program = self.program
        if not program.point_value:
            return None
        return in_minor_units(self.outstanding * program.point_value, program.point_value_currency)


def month_starts(today: dt.date, count: int) -> list[dt.date]:
    """The first days of the `count` months ending with today's, oldest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def program_points_report(program: Program, *, months: int = REPORT_MONTHS) -> PointsReport:
    """The points the programme issued, redeemed and expired in each of the last `months` months
    (in the server's time zone), and its balance at each month's end: one query, grouped by
    month over the programme's whole ledger (the balance counts every month before too)."""
    by_month = {
        row["month"]: row
        for row in PointsTransaction.objects.filter(enrollment__program=program)
        .annotate(month=TruncMonth("created_at", output_field=DateField()))
        .order_by()
        .values("month")
        .annotate(
            issued=Sum("points", filter=Q(kind=PointsKind.AWARD)),
            redeemed=Sum("points", filter=Q(kind=PointsKind.DEDUCT)),
            expired=Sum("points", filter=Q(kind=PointsKind.EXPIRE)),
            net=Sum("points"),
        )
    }
    starts = month_starts(timezone.localdate(), months)
    balance = sum(row["net"] for month, row in by_month.items() if month < starts[0])
    shown = []
    for start in starts:
        row = by_month.get(start, {})
        balance += row.get("net") or 0
        shown.append(
            MonthPoints(
                month=start,
                issued=row.get("issued") or 0,
                redeemed=-(row.get("redeemed") or 0),
                expired=-(row.get("expired") or 0),
                outstanding=balance,
            )
        )
    return PointsReport(program=program, months=shown, outstanding=balance)
