"""What a purchase earns under a programme's earning rules: a pure calculation, no reads or writes
beyond the rules handed in, shared by recording a purchase and simulating one.

Rules stack in four stages, and by priority (then age) within a stage:

1. base rate: points per unit spent of the purchase's total, rounded as the rule says; a minimum
   spend the total does not reach makes the purchase earn nothing at all;
2. multipliers (category, SKU, tier): each adds (multiplier - 1) x the base points of what it
   matches (the lines' share of the total, or all of it for a tier), rounded down; they are
   measured against the base, so two x2 multipliers make x3, not x4;
3. bonuses (first purchase, birthday): a fixed number of points;
4. caps (per transaction, per customer per day): when what the rules before gave exceeds the
   cap, the latest contributions are cut first (bonuses, then multipliers, then the base).

Each contribution says what it was measured on (its basis), so that a return takes back what the
returned goods earned by the rule as it was (loyalty.services.clawback).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from django.utils import timezone

from ..choices import EarningKind, Rounding
from ..transactions import EarningRule

STAGES = {
    EarningKind.MINIMUM_SPEND: 0,
    EarningKind.BASE_RATE: 1,
    EarningKind.CATEGORY_MULTIPLIER: 2,
    EarningKind.SKU_MULTIPLIER: 2,
    EarningKind.TIER_MULTIPLIER: 2,
    EarningKind.FIRST_PURCHASE_BONUS: 3,
    EarningKind.BIRTHDAY_BONUS: 3,
    EarningKind.TRANSACTION_CAP: 4,
    EarningKind.DAILY_CAP: 4,
}
ROUNDING = {Rounding.DOWN: ROUND_DOWN, Rounding.NEAREST: ROUND_HALF_UP, Rounding.UP: ROUND_UP}
BASIS_TOTAL = "total"
BASIS_BONUS = "bonus"


@dataclass(frozen=True)
class PurchaseLine:
    sku: str
    category: str
    amount: Decimal


@dataclass(frozen=True)
class Purchase:
    total: Decimal
    lines: tuple[PurchaseLine, ...]
    occurred_at: dt.datetime
    store_id: int | None


@dataclass(frozen=True)
class Member:
    tier_number: int | None
    birthday: dt.date | None
    first_purchase: bool
    earned_today: int  # points purchases already earned this enrolment on the purchase's day


@dataclass(frozen=True)
class Contribution:
    rule_id: int
    rule_name: str
    kind: str
    points: int
    reason: str
    basis: str = BASIS_TOTAL


def basis_of(rule: EarningRule) -> str:
    """What the rule measures a purchase on: all of it, a fixed bonus, or the lines of a category
    or SKU."""
    if rule.kind == EarningKind.CATEGORY_MULTIPLIER:
        return f"category:{rule.parameters['category']}"
    if rule.kind == EarningKind.SKU_MULTIPLIER:
        return f"sku:{rule.parameters['sku']}"
    if STAGES[rule.kind] == 3:
        return BASIS_BONUS
    return BASIS_TOTAL


def rule_applies(rule: EarningRule, purchase: Purchase) -> bool:
    """Whether the rule is in force when and where the purchase happened."""
    if rule.active_from is not None and purchase.occurred_at < rule.active_from:
        return False
    if rule.active_until is not None and purchase.occurred_at >= rule.active_until:
        return False
    stores = {store.pk for store in rule.stores.all()}
    return not stores or purchase.store_id in stores


def is_birthday(birthday: dt.date | None, moment: dt.datetime) -> bool:
    if birthday is None:
        return False
    day = timezone.localtime(moment).date()
    if (birthday.month, birthday.day) == (2, 29) and not _is_leap(day.year):
        return (day.month, day.day) == (2, 28)
    return (day.month, day.day) == (birthday.month, birthday.day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _contribution(rule: EarningRule, points: int, reason: str) -> Contribution:
    return Contribution(rule.pk, rule.name, rule.kind, points, reason, basis_of(rule))


def _matched_amount(rule: EarningRule, purchase: Purchase) -> Decimal:
    if rule.kind == EarningKind.CATEGORY_MULTIPLIER:
        wanted = rule.parameters["category"]
        return sum((line.amount for line in purchase.lines if line.category == wanted), Decimal(0))
    wanted = rule.parameters["sku"]
    return sum((line.amount for line in purchase.lines if line.sku == wanted), Decimal(0))


def _multiplied(rule: EarningRule, base: int, purchase: Purchase, member: Member) -> Contribution:
    multiplier = Decimal(rule.parameters["multiplier"])
    if rule.kind == EarningKind.TIER_MULTIPLIER:
        if member.tier_number != rule.parameters["tier"]:
            return _contribution(rule, 0, "")
        share, what = Decimal(base), f"tier {member.tier_number}"
    else:
        matched = _matched_amount(rule, purchase)
        share = Decimal(base) * matched / purchase.total if purchase.total else Decimal(0)
        what = f"{matched} spent on {rule.parameters.get('category') or rule.parameters['sku']}"
    extra = int((share * (multiplier - 1)).to_integral_value(ROUND_DOWN))
    return _contribution(rule, extra, f"x{multiplier} for {what}")


def _bonus(rule: EarningRule, purchase: Purchase, member: Member) -> Contribution:
    if rule.kind == EarningKind.FIRST_PURCHASE_BONUS:
        earned = member.first_purchase
        reason = "First purchase"
    else:
        earned = is_birthday(member.birthday, purchase.occurred_at)
        reason = "Birthday"
    return _contribution(rule, rule.parameters["points"] if earned else 0, reason)


def _capped(contributions: list[Contribution], limit: int) -> tuple[list[Contribution], int]:
    """The contributions cut, latest first, to `limit` points in all; and how much was cut."""
    excess = sum(c.points for c in contributions) - limit
    if excess <= 0:
        return contributions, 0
    cut = excess
    kept = list(contributions)
    for index in range(len(kept) - 1, -1, -1):
        taken = min(kept[index].points, excess)
        if taken:
            kept[index] = replace(
                kept[index],
                points=kept[index].points - taken,
                reason=kept[index].reason + " (cut by a cap)",
            )
            excess -= taken
        if not excess:
            break
    return kept, cut


def earn(rules: Iterable[EarningRule], purchase: Purchase, member: Member) -> list[Contribution]:
    """What each rule in force contributes, in the order they stack; a cap that cut points shows
    as a negative contribution (it writes nothing: it lowers what the rules before it give)."""
    ordered = sorted(
        (rule for rule in rules if rule_applies(rule, purchase)),
        key=lambda rule: (STAGES[rule.kind], rule.priority, rule.pk),
    )
    given: list[Contribution] = []
    caps: list[Contribution] = []
    base = 0
    for rule in ordered:
        parameters = rule.parameters
        if rule.kind == EarningKind.MINIMUM_SPEND:
            minimum = Decimal(parameters["amount"])
            if purchase.total < minimum:
                return [_contribution(rule, 0, f"Spent {purchase.total}, under {minimum}")]
        elif rule.kind == EarningKind.BASE_RATE:
            per = Decimal(parameters["per"])
            exact = purchase.total / per * parameters["points"]
            points = int(exact.to_integral_value(ROUNDING[parameters["rounding"]]))
            base += points
            given.append(
                _contribution(rule, points, f"{parameters['points']} per {per} on {purchase.total}")
            )
        elif STAGES[rule.kind] == 2:
            given.append(_multiplied(rule, base, purchase, member))
        elif STAGES[rule.kind] == 3:
            given.append(_bonus(rule, purchase, member))
        else:
            limit = parameters["points"]
            if rule.kind == EarningKind.DAILY_CAP:
                limit = max(0, limit - member.earned_today)
            given, cut = _capped(given, limit)
            if cut:
                caps.append(_contribution(rule, -cut, f"At most {parameters['points']} points"))
    return [c for c in given if c.points > 0] + caps
