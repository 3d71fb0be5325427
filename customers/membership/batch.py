"""Upserting a batch of customers, each succeeding or failing alone, with the new customers
among them written set-wise."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError
from crm.models import Organization
from customers.inputs import CustomerInput
from customers.membership.enrolment import MembershipResult
from customers.membership.upsert import customer_upsert, upsert_keys
from customers.services.writer import (
    NewCustomer,
    collision_keys,
    keys_held,
    new_customers_write,
)
from customers.validation import (
    check_identifiable,
    clean_channels,
    clean_profile,
    fill_from_identifiers,
)


@dataclass
class ItemOutcome:
    """What became of one item of a batch: a result, or the error that refused it."""

    result: MembershipResult | None = None
    error: DomainError | None = None


def customers_upsert_many(
    *, organization: Organization, items: list[CustomerInput], actor: Actor = SYSTEM
) -> list[ItemOutcome]:
    """customer_upsert for each item, in order, each succeeding or failing alone.

    The outcome is the same as calling customer_upsert item after item (a test holds it to
    that), but a run of items that each register a new customer with only a profile, source
    accounts, identifiers and channels, colliding with no customer nor with each other, is
    checked with the same validation and written set-wise: a few queries for the whole run
    instead of a dozen for each item. Everything else (updates, attachments, enrolments, cards,
    referrals, and every item a check would refuse) goes through customer_upsert itself.
    """
    outcomes = [ItemOutcome() for _ in items]
    candidates: dict[int, NewCustomer] = {}
    for index, data in enumerate(items):
        if data.enrollments or data.stamp_card_ids or data.referral_code:
            continue
        try:
            _, accounts = upsert_keys(organization, data)
            profile = clean_profile(organization, data.given())
            channels = clean_channels(organization, data.channels)
            fill_from_identifiers(profile, accounts)
            check_identifiable(profile, accounts, channels)
        except DomainError:
            continue  # customer_upsert reports it, exactly as it would alone
        candidates[index] = NewCustomer(profile, accounts, channels)
    taken: set[tuple] | None = None
    pending: dict[int, NewCustomer] = {}
    for index, data in enumerate(items):
        candidate = candidates.get(index)
        if candidate is not None:
            if taken is None:  # what customers hold now, of the keys the rest of the batch uses
                rest = [c for i, c in candidates.items() if i >= index]
                taken = keys_held(organization, set().union(*map(collision_keys, rest)))
            if not collision_keys(candidate) & taken:
                taken |= collision_keys(candidate)
                pending[index] = candidate
                continue
        _register_many(organization, pending, outcomes, items, actor)
        pending = {}
        outcomes[index] = _upsert_alone(organization, data, actor)
        taken = None  # that item may have changed who holds what
    _register_many(organization, pending, outcomes, items, actor)
    return outcomes


def _upsert_alone(organization: Organization, data: CustomerInput, actor: Actor) -> ItemOutcome:
    try:
        return ItemOutcome(
            result=customer_upsert(organization=organization, data=data, actor=actor)
        )
    except DomainError as error:
        return ItemOutcome(error=error)


def _register_many(
    organization: Organization,
    pending: dict[int, NewCustomer],
    outcomes: list[ItemOutcome],
    items: list[CustomerInput],
    actor: Actor,
) -> None:
    """Register the new customers (by their items' index) in one transaction; if that fails (a
    concurrent writer took one of their keys meanwhile), register each alone, as
    customer_upsert decides."""
    if not pending:
        return
    try:
        with transaction.atomic():
            results = new_customers_write(organization, list(pending.values()), actor=actor)
    except IntegrityError:
        for index in pending:
            outcomes[index] = _upsert_alone(organization, items[index], actor)
        return
    for index, result in zip(pending, results, strict=True):
        outcomes[index] = ItemOutcome(result=MembershipResult.of(result))
