"""The end of a tier period: each member whose tier has expired is renewed, upgraded or
downgraded by what they earned or spent in the programme's window (loyalty.services.tier_changes),
never below a tier set by staff before that tier's own expiry.

The daily task (loyalty.tasks.tiers_renew_task) runs `tiers_renew_due`: one enrolment per
transaction, under its row lock. Running it again changes nothing more: an enrolment it reviewed
expires in the future, or never.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from crm.actors import SYSTEM, Actor
from crm.models import Organization

from ..choices import TierChangeReason, TierWindow
from ..models import Enrollment
from ..tiers import Tier
from .tier_changes import change_tier, qualifying_figure, tier_expiry, tier_floor_at, tier_reached

BATCH_SIZE = 500


@dataclass
class Renewals:
    """How many tier periods ended in each way."""

    renewed: int = 0
    upgraded: int = 0
    downgraded: int = 0

    def count(self, reason: str) -> None:
        if reason == TierChangeReason.RENEWAL:
            self.renewed += 1
        elif reason == TierChangeReason.UPGRADE:
            self.upgraded += 1
        else:
            self.downgraded += 1


def tier_review(
    locked: Enrollment, tiers: list[Tier], now: dt.datetime, actor: Actor, renewals: Renewals
) -> None:
    """End each of the locked enrolment's tier periods that ended by `now`.

    A period that ended at E is judged by the window that ends at E, and the next one starts at
    E, so a late run decides as a punctual one would, period by period."""
    program = locked.program
    lowest = tiers[0] if tiers else None
    while locked.tier_expires_at is not None and locked.tier_expires_at <= now:
        end = locked.tier_expires_at
        tier = tier_reached(program, tiers, qualifying_figure(locked, end=end)) or lowest
        expires_at = tier_expiry(program, tiers, tier, end)
        floor = tier_floor_at(locked, end)
        if floor is not None and (tier is None or floor.number > tier.number):
            tier, expires_at = floor, locked.tier_floor_until
        before, after = (t.number if t else 0 for t in (locked.tier, tier))
        if after == before:
            reason = TierChangeReason.RENEWAL
        elif after > before:
            reason = TierChangeReason.UPGRADE
        else:
            reason = TierChangeReason.DOWNGRADE
        change_tier(locked, tier, expires_at, reason, actor)
        renewals.count(reason)


def due_ids(due: QuerySet, batch_size: int) -> Iterator[list[int]]:
    """The ids of the `due` enrolments, in order, `batch_size` at a time."""
    last = 0
    while ids := list(
        due.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
    ):
        yield ids
        last = ids[-1]


def tiers_renew_due(
    *,
    organization: Organization | None = None,
    now: dt.datetime | None = None,
    actor: Actor = SYSTEM,
    batch_size: int = BATCH_SIZE,
) -> Renewals:
    """Review every enrolment (of the organization, if one is given) whose tier has expired, in
    programmes whose tiers have a window; merged and erased customers' enrolments stay as they
    are. Reads the due enrolments' ids a batch at a time."""
    now = now or timezone.now()
    due = Enrollment.objects.filter(
        tier_expires_at__lte=now,
        customer__merged_into__isnull=True,
        customer__erased_at__isnull=True,
    ).exclude(program__tier_window=TierWindow.LIFETIME)
    if organization is not None:
        due = due.filter(program__organization=organization)
    renewals = Renewals()
    tiers: dict[int, list[Tier]] = {}
    for ids in due_ids(due, batch_size):
        for enrollment_id in ids:
            with transaction.atomic():
                locked = (
                    Enrollment.objects.select_for_update(of=("self",))
                    .select_related("program", "customer", "tier", "tier_floor")
                    .filter(pk=enrollment_id, tier_expires_at__lte=now)
                    .first()
                )
                if locked is None:  # reviewed meanwhile
                    continue
                if locked.program_id not in tiers:
                    tiers[locked.program_id] = list(locked.program.tiers.order_by("number"))
                tier_review(locked, tiers[locked.program_id], now, actor, renewals)
    return renewals
