"""Upserting one customer: update the customer its email, phone, external id or identifiers
find, or register one."""

from dataclasses import replace
from typing import Any

from django.db import transaction
from django.db.models import Q

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.choices import IdentifierType
from customers.inputs import CustomerInput, IdentifierInput
from customers.membership.enrolment import MembershipResult, programs_for, stamp_cards_for
from customers.membership.registration import customer_register
from customers.membership.update import customer_update
from customers.models import Customer, Identifier
from customers.services.identifiers import identifier_add
from customers.validation import (
    CANONICAL_FIELD_BY_IDENTIFIER,
    TAKEN_CODES,
    CleanAccount,
    clean_accounts,
    clean_channels,
    clean_profile,
)


def customer_match(
    *, organization: Organization, data: CustomerInput, match_by: dict[str, Any] | None = None
) -> Customer | None:
    """The customer customer_upsert would update (None: it would register one)."""
    return _upsert_match(organization, data, match_by)


def customer_upsert(
    *,
    organization: Organization,
    data: CustomerInput,
    match_by: dict[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> MembershipResult:
    """Update the customer found by email, phone, external id or identifier, or register one.

    `match_by` looks a customer up by other values than `data`'s own email, phone and external
    id: a vendor's key (Jericommerce's email, say, to change it, or Voucherify's source_id
    alone). Identifiers in `data` are always looked up; those the customer lacks are added.
    """
    # The input is checked whole before any customer is looked for: a bad value is reported as
    # such, whoever the other values belong to.
    upsert_keys(organization, data, match_by)
    clean_profile(organization, data.given())
    clean_channels(organization, data.channels)
    customer = _upsert_match(organization, data, match_by)
    if customer is None:
        try:
            return customer_register(organization=organization, data=data, actor=actor)
        except DomainError as error:
            if error.code not in TAKEN_CODES.values():
                raise
            # Taken by a concurrent upsert of the same customer: update what it registered.
            customer = _upsert_match(organization, data, match_by)
            if customer is None:
                raise
    with transaction.atomic():
        return _upsert_existing(customer, data, actor)


def upsert_keys(
    organization: Organization, data: CustomerInput, match_by: dict[str, Any] | None = None
) -> tuple[dict[str, str | None], list[CleanAccount]]:
    """What an upsert looks a customer up by: the values of `match_by` (by default the email,
    phone and external id `data` sets), and its identifiers."""
    if match_by is None:
        match_by = {name: getattr(data, name) or None for name in TAKEN_CODES}
    keys = clean_profile(organization, {name: value or None for name, value in match_by.items()})
    return keys, clean_accounts(organization, data.source_accounts)


def _upsert_match(
    organization: Organization, data: CustomerInput, match_by: dict[str, Any] | None
) -> Customer | None:
    keys, accounts = upsert_keys(organization, data, match_by)
    lookups = Q(pk__in=[])
    for name, value in keys.items():
        if value:
            lookups |= Q(**{name: value})
    # An email, mobile or externalId identifier also finds the customer whose own it is.
    for account in accounts:
        for identifier in account.identifiers:
            name = CANONICAL_FIELD_BY_IDENTIFIER.get(identifier.type)
            if name:
                lookups |= Q(**{name: identifier.value})
    matches = set(
        Customer.objects.filter(lookups, organization=organization).values_list("pk", flat=True)
    )
    identifiers = Q(pk__in=[])
    for account in accounts:
        for identifier in account.identifiers:
            identifiers |= Q(type=identifier.type, value=identifier.value)
    matches.update(
        Identifier.objects.filter(identifiers, organization=organization).values_list(
            "customer_id", flat=True
        )
    )
    if len(matches) > 1:
        raise DomainError(
            ErrorCode.IDENTIFIERS_CONFLICT,
            "The email, external id and identifiers given belong to more than one customer.",
            field=next((name for name, value in keys.items() if value), "source_accounts"),
        )
    if not matches:
        return None
    customer = Customer.objects.select_related("organization").get(pk=matches.pop())
    if match_by is None:
        _refuse_another_persons_keys(customer, keys, accounts)
    return customer


def _refuse_another_persons_keys(
    customer: Customer, keys: dict[str, str | None], accounts: list[CleanAccount]
) -> None:
    """Refuse an upsert that gives an email and finds, by its phone or an identifier, a customer
    with another email: those keys are someone else's (a phone number passed on, a shared
    card), and updating would overwrite that person's email and name.

    The customer's external id, the key their own system gave them, says who they are: found
    by it, they are that customer, and their email may change. So may it when the caller names
    its own key (`match_by`, a vendor's)."""
    email = keys.get("email")
    if not email or not customer.email or customer.email == email:
        return
    given = [identifier for account in accounts for identifier in account.identifiers]
    external_ids = {keys.get("external_id")} | {
        identifier.value for identifier in given if identifier.type == IdentifierType.EXTERNAL_ID
    }
    if customer.external_id and customer.external_id in external_ids:
        return
    what, field = "identifiers", "source_accounts"
    if keys.get("phone") and customer.phone == keys["phone"]:
        what, field = "phone", "phone"
    else:
        held = set(customer.identifiers.values_list("type", "value"))
        for identifier in given:
            name = CANONICAL_FIELD_BY_IDENTIFIER.get(identifier.type)
            own = name is not None and getattr(customer, name) == identifier.value
            if own or (identifier.type, identifier.value) in held:
                what, field = f"{identifier.type} identifier", f"{identifier.path}.value"
                break
    raise DomainError(
        ErrorCode.IDENTIFIERS_CONFLICT,
        f"The {what} is customer {customer.public_id}'s, whose email is not this email: refused "
        "rather than overwrite that customer's email and name.",
        field=field,
    )


def _upsert_existing(customer: Customer, data: CustomerInput, actor: Actor) -> MembershipResult:
    programs_for(customer.organization, data)
    stamp_cards_for(customer.organization, data)
    # Locked before reading what the customer holds: a concurrent upsert enrolling them waits,
    # then finds the enrolment made.
    Customer.objects.select_for_update().only("pk").get(pk=customer.pk)
    enrolled = set(customer.enrollments.values_list("program_id", flat=True))
    carded = set(customer.cards.values_list("stamp_card_id", flat=True))
    profile_data = replace(
        data,
        source_accounts=[],
        referral_code="",
        enrollments=[e for e in data.enrollments if e.program_id not in enrolled],
        stamp_card_ids=[c for c in data.stamp_card_ids if c not in carded],
    )
    result = customer_update(customer=customer, data=profile_data, actor=actor)
    have = set(customer.identifiers.values_list("source", "account_id", "type", "value"))
    for i, account in enumerate(clean_accounts(customer.organization, data.source_accounts)):
        for identifier in account.identifiers:
            if (account.source, account.account_id, identifier.type, identifier.value) in have:
                continue
            try:
                identifier_add(
                    customer=customer,
                    source=account.source,
                    account_id=account.account_id,
                    data=IdentifierInput(
                        type=identifier.type,
                        value=identifier.value,
                        series_id=identifier.series_id,
                        status_label=identifier.status_label,
                        extended_fields=identifier.extended_fields,
                    ),
                    actor=actor,
                )
            except DomainError as error:
                raise error.at(f"source_accounts[{i}]") from None
            result.changed.append("identifiers")
    return result
