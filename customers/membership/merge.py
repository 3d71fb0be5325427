"""Merging one customer into another of the same organization.

A merge moves everything of the merged customer to the survivor and keeps the merged-away record
as a tombstone whose old id resolves to the survivor. It runs in one transaction and is recorded
in the audit trail.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers import audit
from customers.choices import IdentifierType, LoyaltyType
from customers.fields import CUSTOMER_FIELDS, FILE_FIELDS, Kind
from customers.inputs import IdentifierInput
from customers.models import AuditEvent, Customer, Identifier, SourceAccount
from customers.services.identifiers import identifier_add
from loyalty.services.merging import loyalty_merge

from .closing import PERSONAL_FIELDS, closed_error

# What a merge fills in on the survivor from the merged customer when the survivor lacks it, in
# the order of the files' columns (the order staff see a merge plan's values in), then the fields
# no file carries.
MERGED_PROFILE_FIELDS = tuple(
    declared.model_field
    for declared in (*FILE_FIELDS, *(f for f in CUSTOMER_FIELDS if f.file_column is None))
    if declared.merged
)
# The values no two customers share: the merged customer gives them up before the survivor takes
# them.
UNIQUE_FIELDS = tuple(
    declared.model_field for declared in CUSTOMER_FIELDS if declared.kind is Kind.OPTIONAL_TEXT
)


# The merged customer's own email and phone, when the survivor keeps different ones, stay with the
# survivor as identifiers, so that a caller giving the old value still finds the customer.
KEPT_AS_IDENTIFIERS = {"email": IdentifierType.EMAIL, "phone": IdentifierType.MOBILE}


@dataclass(frozen=True)
class Conflict:
    """A value both customers have, differently: the survivor's is kept."""

    what: str
    kept: Any
    dropped: Any


@dataclass
class MergePlan:
    """What merging `merged` into `survivor` will do, shown to staff before they confirm."""

    survivor: Customer
    merged: Customer
    conflicts: list[Conflict] = field(default_factory=list)
    filled: dict[str, Any] = field(default_factory=dict)
    moves: list[str] = field(default_factory=list)


def _empty(value: Any) -> bool:
    return value in (None, "", {}, [])


def _refuse(message: str, field_name: str = "customer") -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field=field_name)


def merge_plan(*, survivor: Customer, merged: Customer) -> MergePlan:
    """Check that the two can be merged, and say what the merge will do; nothing is written."""
    if survivor.organization_id != merged.organization_id:
        raise _refuse("Only customers of the same organization can be merged.", "merged")
    if survivor.pk == merged.pk:
        raise _refuse("A customer cannot be merged with itself.", "merged")
    for role, customer in (("survivor", survivor), ("merged", merged)):
        if customer.merged_into_id is not None:
            raise closed_error(
                f"{customer.public_id} was already merged into another customer.", role
            )
        if customer.erased_at is not None:
            raise closed_error(f"{customer.public_id} was erased.", role)
    plan = MergePlan(survivor, merged)
    for name in MERGED_PROFILE_FIELDS:
        kept, other = getattr(survivor, name), getattr(merged, name)
        if name == "referred_by" and other is not None and other.pk == survivor.pk:
            continue
        if _empty(other):
            continue
        if _empty(kept):
            plan.filled[name] = other
        elif kept != other:
            plan.conflicts.append(Conflict(name, kept, other))
    for name in ("custom_fields", "extended_fields"):
        ours, theirs = getattr(survivor, name), getattr(merged, name)
        for key in sorted(theirs.keys() & ours.keys()):
            if ours[key] != theirs[key]:
                plan.conflicts.append(Conflict(f"{name}.{key}", ours[key], theirs[key]))
    for conflict in plan.conflicts:
        if conflict.what in KEPT_AS_IDENTIFIERS:
            plan.moves.append(
                f"{conflict.what.capitalize()} {conflict.dropped}: kept as an identifier of the "
                "survivor"
            )
    _plan_moves(plan)
    return plan


def _plan_moves(plan: MergePlan) -> None:
    survivor, merged = plan.survivor, plan.merged
    accounts = set(survivor.source_accounts.values_list("source", "account_id"))
    for source, account_id in merged.source_accounts.values_list("source", "account_id"):
        name = f"{source}/{account_id}" if account_id else source
        verb = "combined with the survivor's" if (source, account_id) in accounts else "moved"
        plan.moves.append(f"Source account {name}: {verb}")
    identifiers = merged.identifiers.count()
    if identifiers:
        plan.moves.append(f"{identifiers} identifier(s) moved")
    channels = set(survivor.channels.values_list("type", "value"))
    for channel in merged.channels.all():
        if (channel.type, channel.value) in channels:
            plan.moves.append(f"Channel {channel.type} {channel.value}: the survivor has it")
        else:
            plan.moves.append(f"Channel {channel.type} {channel.value}: moved")
    programs = set(survivor.enrollments.values_list("program_id", flat=True))
    for enrollment in merged.enrollments.select_related("program"):
        if enrollment.program_id in programs:
            plan.conflicts.append(
                Conflict(
                    f"enrolment in {enrollment.program.name}",
                    "both enrolled",
                    f"{enrollment.points_balance} points added to the survivor's",
                )
            )
        else:
            plan.moves.append(
                f"Enrolment in {enrollment.program.name} "
                f"({enrollment.points_balance} points): moved"
            )
    stamp_cards = set(survivor.cards.values_list("stamp_card_id", flat=True))
    for card in merged.cards.select_related("stamp_card"):
        if card.stamp_card_id in stamp_cards:
            plan.conflicts.append(
                Conflict(
                    f"{card.stamp_card.name} card",
                    "both have one",
                    f"{card.stamps} stamps of card {card.code} added to the survivor's",
                )
            )
        else:
            plan.moves.append(f"{card.stamp_card.name} card {card.code}: moved")
    coupons = merged.coupons.count()
    if coupons:
        plan.moves.append(f"{coupons} coupon(s) moved")
    referrals = merged.referrals.exclude(pk=survivor.pk).count()
    if referrals:
        plan.moves.append(f"{referrals} referral(s) moved")
    events = merged.events.count()
    if events:
        plan.moves.append(f"{events} history event(s) moved")


def customer_merge(*, survivor: Customer, merged: Customer, actor: Actor) -> MergePlan:
    """Merge `merged` into `survivor`: identifiers, channels, source accounts, enrolments
    (ledgers combined), cards, coupons, referrals and history move; `merged` stays as a
    tombstone pointing to the survivor. Where both have a value, the survivor's is kept."""
    if survivor.pk == merged.pk:
        raise _refuse("A customer cannot be merged with itself.", "merged")
    with transaction.atomic():
        locked = (
            Customer.objects.select_for_update(of=("self",))
            .select_related("organization")
            .order_by("pk")
            .in_bulk([survivor.pk, merged.pk])
        )
        if len(locked) != 2:
            raise _refuse("No such customer.", "merged")
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        plan = merge_plan(survivor=survivor, merged=merged)
        home = merged.source_accounts.order_by("pk").first() or survivor.source_accounts.first()
        _move_profile(plan)
        _move_accounts(survivor, merged)
        if home is not None:
            _keep_as_identifiers(plan, home.source, home.account_id, actor)
        _move_channels(survivor, merged)
        loyalty_merge(survivor=survivor, merged=merged, actor=actor)
        Customer.objects.filter(referred_by=merged).exclude(pk=survivor.pk).update(
            referred_by=survivor
        )
        Customer.objects.filter(merged_into=merged).update(merged_into=survivor)
        AuditEvent.objects.filter(customer=merged).update(customer=survivor)
        _tombstone(merged, survivor)
        changes: dict[str, tuple] = {"merged customer": (None, merged.public_id)}
        changes |= {name: (None, value) for name, value in plan.filled.items()}
        changes |= {
            f"{conflict.what} (kept)": (conflict.dropped, conflict.kept)
            for conflict in plan.conflicts
        }
        audit.record(survivor, subject="customer", action="merged", changes=changes, actor=actor)
    return plan


def _move_profile(plan: MergePlan) -> None:
    survivor, merged = plan.survivor, plan.merged
    # The unique values leave the merged customer before the survivor takes them.
    Customer.objects.filter(pk=merged.pk).update(**dict.fromkeys(UNIQUE_FIELDS))
    for name, value in plan.filled.items():
        setattr(survivor, name, value)
    if "email" in plan.filled:
        survivor.email_verified = merged.email_verified
    for name in ("custom_fields", "extended_fields"):
        setattr(survivor, name, {**getattr(merged, name), **getattr(survivor, name)})
    if merged.loyalty_type == LoyaltyType.LOYALTY:
        survivor.loyalty_type = LoyaltyType.LOYALTY
    if survivor.referred_by_id == merged.pk:
        survivor.referred_by = None
    survivor.save()


def _move_accounts(survivor: Customer, merged: Customer) -> None:
    theirs = {(a.source, a.account_id): a for a in survivor.source_accounts.all()}
    for account in merged.source_accounts.all():
        same = theirs.get((account.source, account.account_id))
        if same is None:
            SourceAccount.objects.filter(pk=account.pk).update(customer=survivor)
            Identifier.objects.filter(source_account=account).update(customer=survivor)
            continue
        Identifier.objects.filter(source_account=account).update(
            customer=survivor, source_account=same
        )
        filled = {"custom_fields": {**account.custom_fields, **same.custom_fields}}
        for name in ("first_name", "last_name"):
            filled[name] = getattr(same, name) or getattr(account, name)
        SourceAccount.objects.filter(pk=same.pk).update(**filled)
        account.delete()


def _keep_as_identifiers(plan: MergePlan, source: str, account_id: str, actor: Actor) -> None:
    """The merged customer's email and phone that the survivor does not keep, as identifiers of
    the survivor in the source account the merged customer came from; one that account already
    holds stays where it is."""
    survivor = plan.survivor
    for conflict in plan.conflicts:
        type_ = KEPT_AS_IDENTIFIERS.get(conflict.what)
        if type_ is None:
            continue
        held = Identifier.objects.filter(
            organization_id=survivor.organization_id,
            source=source,
            account_id=account_id,
            type=type_,
            value=conflict.dropped,
        )
        if not held.exists():
            identifier_add(
                customer=survivor,
                source=source,
                account_id=account_id,
                data=IdentifierInput(type=type_, value=conflict.dropped),
                actor=actor,
            )


def _move_channels(survivor: Customer, merged: Customer) -> None:
    theirs = {(c.type, c.value) for c in survivor.channels.all()}
    primary_types = set(survivor.channels.filter(primary=True).values_list("type", flat=True))
    for channel in merged.channels.all():
        if (channel.type, channel.value) in theirs:
            channel.delete()
            continue
        channel.customer = survivor
        channel.primary = channel.primary and channel.type not in primary_types
        channel.save(update_fields=["customer", "primary", "updated_at"])


def _tombstone(merged: Customer, survivor: Customer) -> None:
    """What remains of a merged customer: its id, pointing to the survivor."""
    Customer.objects.filter(pk=merged.pk).update(
        **PERSONAL_FIELDS,
        status_label=None,
        referred_by=None,
        merged_into=survivor,
        import_digest=None,
        updated_at=timezone.now(),
    )
    merged.refresh_from_db()
