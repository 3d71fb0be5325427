"""Registering a customer's identity: the customer, its source accounts, identifiers, channels,
referral code and default status label, or further source accounts for the customer its
identifiers already belong to. Enrolments and referral rewards are customers.membership's.
"""

import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers import audit
from customers.inputs import ChannelInput
from customers.models import (
    CommChannel,
    Customer,
    Identifier,
    SourceAccount,
    StatusLabel,
)
from customers.services.channels import channels_add_missing, new_channel
from customers.services.touch import customer_touch
from customers.validation import CleanAccount, check_profile_unique, matching_customer_id


@dataclass(frozen=True)
class ServiceWarning:
    code: str
    message: str


DEFAULT_STATUS_LABEL_NOT_SET = "default_status_label_not_set"
SOURCE_ACCOUNT_ADDED = "source_account_added"


@dataclass
class CustomerResult:
    customer: Customer
    created: bool
    changed: list[str] = field(default_factory=list)
    warnings: list[ServiceWarning] = field(default_factory=list)


def created_event(
    customer: Customer,
    profile: dict[str, Any],
    accounts: list[CleanAccount],
    actor: Actor,
    channels: list[ChannelInput] = (),
) -> dict:
    """The audit event of a registration: what the customer was given."""
    changes = {name: (None, getattr(customer, name)) for name in profile}
    changes["identifiers"] = (
        None,
        [f"{a.source}:{i.type}={i.value}" for a in accounts for i in a.identifiers],
    )
    if channels:
        changes["channels"] = (None, [audit.channel_label(channel) for channel in channels])
    return {"subject": "customer", "action": "created", "changes": changes, "actor": actor}


def default_status_label(organization: Organization) -> StatusLabel | None:
    return StatusLabel.objects.filter(organization=organization, is_default=True).first()


def merge_fields(current: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Custom or extended fields after a change: `given` over `current`, None removing a field."""
    merged = {**current, **given}
    return {key: value for key, value in merged.items() if value is not None}


def new_customer(
    organization: Organization,
    profile: dict[str, Any],
    referrer: Customer | None,
    default_label: StatusLabel | None,
) -> tuple[Customer, list[ServiceWarning]]:
    """The (unsaved) customer a cleaned profile makes, with the warnings its registration gives.

    Without a status or label of its own, it takes the organization's default label.
    """
    profile = dict(profile)
    warnings = []
    if profile.get("status_label") is None and "status" not in profile:
        if default_label is None:
            warnings.append(
                ServiceWarning(
                    DEFAULT_STATUS_LABEL_NOT_SET, "Default customer status label not set"
                )
            )
        else:
            profile["status_label"] = default_label
            profile["status"] = default_label.status
    for name in ("custom_fields", "extended_fields"):
        if name in profile:
            profile[name] = merge_fields({}, profile[name])
    return Customer(organization=organization, referred_by=referrer, **profile), warnings


def new_account(customer: Customer, account: CleanAccount) -> SourceAccount:
    return SourceAccount(
        customer=customer,
        source=account.source,
        account_id=account.account_id,
        first_name=account.first_name,
        last_name=account.last_name,
        custom_fields=account.custom_fields,
    )


def new_identifiers(source_account: SourceAccount, account: CleanAccount) -> list[Identifier]:
    customer = source_account.customer
    return [
        Identifier(
            organization_id=customer.organization_id,
            customer=customer,
            source_account=source_account,
            source=account.source,
            account_id=account.account_id,
            type=identifier.type,
            value=identifier.value,
            series_id=identifier.series_id,
            status_label=identifier.status_label,
            extended_fields=identifier.extended_fields,
        )
        for identifier in account.identifiers
    ]


def account_create(customer: Customer, account: CleanAccount) -> None:
    source_account = new_account(customer, account)
    source_account.save()
    Identifier.objects.bulk_create(new_identifiers(source_account, account))


REFERRAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def unused_referral_codes(organization: Organization, count: int) -> list[str]:
    """`count` referral codes no customer of the organization has."""
    alphabet = len(REFERRAL_ALPHABET)
    codes: set[str] = set()
    while len(codes) < count:
        candidates = set()
        for _ in range(count - len(codes)):
            number = int.from_bytes(secrets.token_bytes(6))  # 48 bits; 31**8 needs 40
            chars = []
            for _ in range(8):
                number, digit = divmod(number, alphabet)
                chars.append(REFERRAL_ALPHABET[digit])
            candidates.add("".join(chars))
        candidates -= codes
        taken = {
            value for _, value in customer_values_held(organization, {"referral_code": candidates})
        }
        codes |= candidates - taken
    return list(codes)[:count]


def customer_values_held(
    organization: Organization, wanted: dict[str, set[str]]
) -> set[tuple[str, str]]:
    """(column, value) for each of the values, by column (an indexed one), that a customer of
    the organization holds: one query."""
    wanted = {column: values for column, values in wanted.items() if values}
    if not wanted:
        return set()
    if connection.vendor == "postgresql":
        # A lookup by index for each value, whatever the statistics say (they lag behind a
        # table that a bulk import is filling), with each list as one array parameter: binding
        # a long IN list costs more than the lookups.
        selects, params = [], []
        for column in wanted:
            selects.append(
                f"SELECT %s, c.v FROM unnest(%s::text[]) AS u(v), LATERAL (SELECT {column} AS v "  # noqa: S608 - our column names
                f"FROM customers_customer WHERE organization_id = %s AND {column} = u.v "
                "LIMIT 1) AS c"
            )
            params += [column, list(wanted[column]), organization.pk]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            return set(cursor.fetchall())
    lookups = Q(pk__in=[])
    for column, values in wanted.items():
        lookups |= Q(**{f"{column}__in": values})
    found = set()
    for row in Customer.objects.filter(lookups, organization=organization).values(*wanted):
        found |= {(column, row[column]) for column in wanted if row[column] in wanted[column]}
    return found


def customer_identity_register(
    organization: Organization,
    profile: dict[str, Any],
    accounts: list[CleanAccount],
    channels: list[ChannelInput],
    referrer: Customer | None,
    actor: Actor,
) -> CustomerResult:
    """Register the customer of the cleaned input, or attach its source accounts to the
    customer its identifiers belong to (`created` says which); call inside a transaction."""
    existing_id = matching_customer_id(organization, accounts)
    if existing_id is not None:
        existing = Customer.objects.select_for_update().get(pk=existing_id)
        return source_accounts_attach(existing, accounts, channels, actor)
    check_profile_unique(organization, profile)
    customer, warnings = new_customer(
        organization, profile, referrer, default_status_label(organization)
    )
    customer.referral_code = unused_referral_codes(organization, 1)[0]
    customer.save()
    audit.record(customer, **created_event(customer, profile, accounts, actor, channels))
    for account in accounts:
        account_create(customer, account)
    CommChannel.objects.bulk_create(new_channel(customer, channel) for channel in channels)
    return CustomerResult(customer=customer, created=True, warnings=warnings)


def source_accounts_attach(
    customer: Customer,
    accounts: list[CleanAccount],
    channels: list[ChannelInput],
    actor: Actor,
) -> CustomerResult:
    """Add the source accounts, and the channels it lacks, to an existing customer; refused
    for a source account the customer has already."""
    present = set(customer.source_accounts.values_list("source", "account_id"))
    for account in accounts:
        if account.key in present:
            raise DomainError(
                ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
                f"The customer already exists in {account.source}.",
                field=f"{account.path}.source",
            )
    result = CustomerResult(customer=customer, created=False)
    audit.record(
        customer,
        subject="source_account",
        action="added",
        changes={
            f"{account.source}/{account.account_id}" if account.account_id else account.source: [
                None,
                [f"{i.type}={i.value}" for i in account.identifiers],
            ]
            for account in accounts
        },
        actor=actor,
    )
    for account in accounts:
        account_create(customer, account)
        result.warnings.append(
            ServiceWarning(
                SOURCE_ACCOUNT_ADDED,
                f"Source account {account.source} added to the existing customer "
                f"{customer.public_id}.",
            )
        )
    channels_add_missing(customer, channels, actor)
    customer_touch(customer.pk)
    return result
