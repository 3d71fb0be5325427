"""The customer's profile in a source that a change sent through that source is recorded in:
found by source and account id, or added when the customer has none there. A source never
hides a customer: it only says where what was sent is kept."""

from typing import Any

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers import audit
from customers.choices import MULTI_ACCOUNT_SOURCES
from customers.inputs import SourceAccountKey
from customers.models import Customer, SourceAccount
from customers.normalization import clean_source, clean_text
from customers.services.registration import (
    SOURCE_ACCOUNT_ADDED,
    CustomerResult,
    ServiceWarning,
    merge_fields,
)
from customers.services.touch import customer_touch

# What a source account keeps, apart from the customer's own, of what its source sent.
ACCOUNT_FIELDS = ("first_name", "last_name", "custom_fields")


def clean_source_key(key: SourceAccountKey) -> SourceAccountKey:
    return SourceAccountKey(
        source=clean_source(key.source, field="source"),
        account_id=clean_text(key.account_id or "", max_length=64, field="account_id"),
    )


def account_id_meant(customer: Customer, key: SourceAccountKey) -> str:
    """The account id of the customer's profile that a cleaned key names.

    A key without an account id names the profile without one, or, in a source of a single
    account, the customer's only profile there; with no profile in the source, a new one
    without an account id. Where several profiles could be meant, the account id is required.
    """
    if key.account_id:
        return key.account_id
    held = set(
        customer.source_accounts.filter(source=key.source).values_list("account_id", flat=True)
    )
    if not held or "" in held:
        return ""
    if len(held) == 1 and key.source not in MULTI_ACCOUNT_SOURCES:
        return held.pop()
    message = (
        f"{key.source} has several accounts: give the accountId."
        if key.source in MULTI_ACCOUNT_SOURCES
        else f"The customer has several profiles in {key.source}: give the accountId."
    )
    raise DomainError(ErrorCode.REQUIRED, message, field="account_id")


def source_account_record(
    customer: Customer,
    key: SourceAccountKey,
    profile: dict[str, Any],
    actor: Actor,
    result: CustomerResult,
) -> None:
    """Keep the names and custom fields of a cleaned profile on the customer's account in the
    cleaned key's source, added if it has none (with a warning in `result`); call inside a
    transaction, the customer locked."""
    account_id = account_id_meant(customer, key)
    label = f"{key.source}/{account_id}" if account_id else key.source
    values = {name: profile[name] for name in ACCOUNT_FIELDS if name in profile}
    account = customer.source_accounts.filter(source=key.source, account_id=account_id).first()
    if account is None:
        values["custom_fields"] = merge_fields({}, values.get("custom_fields", {}))
        SourceAccount.objects.create(
            customer=customer, source=key.source, account_id=account_id, **values
        )
        audit.record(
            customer,
            subject="source_account",
            action="added",
            changes={label: (None, values)},
            actor=actor,
        )
        result.warnings.append(
            ServiceWarning(
                SOURCE_ACCOUNT_ADDED,
                f"Source account {label} added to the existing customer {customer.public_id}.",
            )
        )
    else:
        if "custom_fields" in values:
            values["custom_fields"] = merge_fields(account.custom_fields, values["custom_fields"])
        before = {name: getattr(account, name) for name in values}
        for name, value in values.items():
            setattr(account, name, value)
        changes = audit.changed_fields(account, list(values), before)
        if not changes:
            return
        account.save(update_fields=list(changes))
        audit.record(
            customer,
            subject="source_account",
            action="updated",
            changes={f"{label}: {name}": change for name, change in changes.items()},
            actor=actor,
        )
    result.changed.append("source_accounts")
    customer_touch(customer.pk)
