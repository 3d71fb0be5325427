"""Whole-input validation for the customer services: everything is checked before anything is
written. Each function raises DomainError naming the offending field by its path in the input.

Value-level normalisation (an email, a phone number, an extended field's value) is in
`normalization`; here inputs are checked as a whole and against the organization's data
(status labels, stores, who holds an email or an identifier); the enrolments an input asks
for are checked by customers.membership.enrolment.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from django.db.models import Q

from crm.errors import DomainError, ErrorCode, field_path
from crm.models import Organization, Store
from crm.parsing import MAX_ID, in_utc

from . import selectors
from .choices import CustomerStatus, IdentifierType
from .inputs import ChannelInput, IdentifierInput, SourceAccountInput
from .models import Customer, ExtendedFieldDefinition, Identifier, StatusLabel
from .normalization import (
    clean_extended_fields,
    clean_json,
    clean_loyalty_type,
    clean_source,
    clean_text,
    normalize_channel,
    normalize_email,
    normalize_identifier,
    normalize_phone,
    require_choice,
    require_text,
)

TEXT_LIMITS = {
    name: Customer._meta.get_field(name).max_length
    for name in (
        "first_name",
        "last_name",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "country",
    )
}


def require_type(value: Any, expected: type | tuple[type, ...], field_name: str, what: str) -> None:
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise DomainError(ErrorCode.INVALID, f"Expected {what}.", field=field_name)


def optional_text(value: Any, name: str, normalize: Callable[[str], str]) -> str | None:
    """None for an absent or blank value, else the normalised value."""
    if value is None:
        return None
    require_type(value, str, name, "a string")
    return normalize(value) if value.strip() else None


@dataclass
class PreloadedConfiguration:
    """An organization's configuration read once, to check many inputs (an import) without a
    query for each: its extended field definitions, status labels and stores."""

    definitions: dict[str, ExtendedFieldDefinition]
    labels: dict[str, StatusLabel]  # by lower-case name
    stores: dict[str, Store]  # by code

    @classmethod
    def of(cls, organization: Organization) -> "PreloadedConfiguration":
        return cls(
            definitions=selectors.extended_field_definitions(organization=organization),
            labels={
                label.name.lower(): label
                for label in StatusLabel.objects.filter(organization=organization)
            },
            stores={store.code: store for store in Store.objects.filter(organization=organization)},
        )


def clean_profile(
    organization: Organization,
    given: dict[str, Any],
    preloaded: PreloadedConfiguration | None = None,
) -> dict[str, Any]:
    """Model field values for the profile fields given, normalised and checked."""
    region = organization.default_region
    cleaned: dict[str, Any] = {}
    for name, value in given.items():
        if name == "external_id":
            cleaned[name] = optional_text(
                value, name, lambda v: clean_text(v, max_length=255, field="external_id")
            )
        elif name == "email":
            cleaned[name] = optional_text(value, name, normalize_email)
        elif name == "phone":
            cleaned[name] = optional_text(value, name, lambda v: normalize_phone(v, region=region))
        elif name in TEXT_LIMITS or name == "description":
            value = "" if value is None else value
            require_type(value, str, name, "a string")
            limit = TEXT_LIMITS.get(name, 10_000)
            cleaned[name] = clean_text(value, max_length=limit, field=name)
        elif name == "email_verified":
            require_type(value, bool, name, "true or false")
            cleaned[name] = value
        elif name == "birthday":
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise DomainError(ErrorCode.INVALID, "Expected a date.", field=name)
            cleaned[name] = value
        elif name == "loyalty_type":
            cleaned[name] = clean_loyalty_type(value)
        elif name == "status":
            cleaned[name] = require_choice(
                value, CustomerStatus, code=ErrorCode.INVALID, field=name, what="status"
            )
        elif name == "status_label":
            cleaned["status_label"] = status_label_named(organization, value, preloaded)
        elif name == "store_code":
            cleaned["registered_store"] = store_coded(organization, value, preloaded)
        elif name == "custom_fields":
            require_type(value, dict, name, "an object of custom fields")
            cleaned[name] = clean_json(dict(value), field=name)
        elif name == "extended_fields":
            require_type(value, dict, name, "an object of extended fields")
            definitions = (
                preloaded.definitions
                if preloaded
                else selectors.extended_field_definitions(organization=organization)
            )
            cleaned[name] = clean_extended_fields(value, definitions)
    label = cleaned.get("status_label")
    if label is not None:
        if "status" in cleaned and cleaned["status"] != label.status:
            raise DomainError(
                ErrorCode.INVALID,
                f"Status label {label.name!r} is for status {label.status!r}.",
                field="status",
            )
        cleaned["status"] = label.status
    return cleaned


def status_label_named(
    organization: Organization, name: str | None, preloaded: PreloadedConfiguration | None = None
) -> StatusLabel | None:
    if not name:
        return None
    name = require_text(name, field="status_label")
    if preloaded is not None:
        label = preloaded.labels.get(name.strip().lower())
    else:
        label = StatusLabel.objects.filter(
            organization=organization, name__iexact=name.strip()
        ).first()
    if label is None:
        raise DomainError(
            ErrorCode.STATUS_LABEL_UNKNOWN,
            f"{name!r} is not a status label of this organization.",
            field="status_label",
        )
    return label


def store_coded(
    organization: Organization, code: str | None, preloaded: PreloadedConfiguration | None = None
) -> Store | None:
    if not code:
        return None
    code = require_text(code, field="store_code")
    if preloaded is not None:
        store = preloaded.stores.get(code.strip())
    else:
        store = Store.objects.filter(organization=organization, code=code.strip()).first()
    if store is None:
        raise DomainError(
            ErrorCode.STORE_UNKNOWN,
            f"{code!r} is not a store of this organization.",
            field="store_code",
        )
    return store


@dataclass
class CleanIdentifier:
    type: str
    value: str
    series_id: int | None
    status_label: str
    extended_fields: dict[str, Any]
    path: str


@dataclass
class CleanAccount:
    source: str
    account_id: str
    first_name: str
    last_name: str
    custom_fields: dict[str, Any]
    identifiers: list[CleanIdentifier]
    path: str

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.account_id


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_id(value: Any) -> bool:
    return is_int(value) and 0 < value <= MAX_ID


def clean_identifier(region: str, data: IdentifierInput, path: str) -> CleanIdentifier:
    type_, value = normalize_identifier(data.type, data.value, region=region, field=path)
    if data.series_id is not None and (
        not is_int(data.series_id) or not 0 <= data.series_id <= MAX_ID
    ):
        raise DomainError(
            ErrorCode.INVALID, "Expected a card series number.", field=field_path(path, "series_id")
        )
    require_type(data.extended_fields, dict, field_path(path, "extended_fields"), "an object")
    return CleanIdentifier(
        type=type_,
        value=value,
        series_id=data.series_id,
        status_label=clean_text(
            data.status_label or "", max_length=32, field=field_path(path, "status_label")
        ),
        extended_fields=clean_json(data.extended_fields, field=field_path(path, "extended_fields")),
        path=path,
    )


def clean_accounts(
    organization: Organization, accounts: Iterable[SourceAccountInput]
) -> list[CleanAccount]:
    cleaned: list[CleanAccount] = []
    seen_accounts: set[tuple[str, str]] = set()
    for i, data in enumerate(accounts):
        path = f"source_accounts[{i}]"
        require_type(data.custom_fields, dict, f"{path}.custom_fields", "an object")
        account = CleanAccount(
            source=clean_source(data.source, field=f"{path}.source"),
            account_id=clean_text(data.account_id or "", max_length=64, field=f"{path}.account_id"),
            first_name=clean_text(
                data.first_name or "", max_length=100, field=f"{path}.first_name"
            ),
            last_name=clean_text(data.last_name or "", max_length=100, field=f"{path}.last_name"),
            custom_fields=clean_json(data.custom_fields, field=f"{path}.custom_fields"),
            identifiers=[
                clean_identifier(
                    organization.default_region, identifier, f"{path}.identifiers[{j}]"
                )
                for j, identifier in enumerate(data.identifiers)
            ],
            path=path,
        )
        if account.key in seen_accounts:
            raise DomainError(
                ErrorCode.INVALID, "This source account is given twice.", field=f"{path}.source"
            )
        seen_accounts.add(account.key)
        seen_identifiers: set[tuple[str, str]] = set()
        for identifier in account.identifiers:
            if (identifier.type, identifier.value) in seen_identifiers:
                raise DomainError(
                    ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
                    "The same identifier is given twice in one source account.",
                    field=identifier.path,
                )
            seen_identifiers.add((identifier.type, identifier.value))
        cleaned.append(account)
    return cleaned


def clean_channel(region: str, data: ChannelInput, path: str) -> ChannelInput:
    type_, value = normalize_channel(data.type, data.value, region=region, field=path)
    for flag in ("primary", "verified", "subscribed", "residence", "office"):
        require_type(getattr(data, flag), bool, field_path(path, flag), "true or false")
    last_viewed_at = data.last_viewed_at
    if last_viewed_at is not None:
        last_viewed_at = in_utc(last_viewed_at, field_path(path, "last_viewed_at"))
    return replace(data, type=type_, value=value, last_viewed_at=last_viewed_at)


def clean_channels(
    organization: Organization, channels: Iterable[ChannelInput]
) -> list[ChannelInput]:
    cleaned: list[ChannelInput] = []
    primary_types: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for i, data in enumerate(channels):
        path = f"channels[{i}]"
        channel = clean_channel(organization.default_region, data, path)
        if (channel.type, channel.value) in seen:
            raise DomainError(
                ErrorCode.CHANNEL_TAKEN, "This channel is given twice.", field=f"{path}.value"
            )
        seen.add((channel.type, channel.value))
        if channel.primary:
            if channel.type in primary_types:
                raise DomainError(
                    ErrorCode.INVALID,
                    f"Only one {channel.type} channel can be primary.",
                    field=f"{path}.primary",
                )
            primary_types.add(channel.type)
        cleaned.append(channel)
    return cleaned


def referrer_for(organization: Organization, code: str) -> Customer | None:
    if not code or not require_text(code, field="referral_code").strip():
        return None
    referrer = (
        Customer.objects.filter(organization=organization, referral_code=code.strip().upper())
        .select_related("merged_into")
        .first()
    )
    if referrer is not None and referrer.merged_into is not None:
        return referrer.merged_into  # as a merged customer's id resolves to the survivor
    if referrer is None:
        raise DomainError(
            ErrorCode.REFERRAL_CODE_UNKNOWN,
            f"No customer has referral code {code!r}.",
            field="referral_code",
        )
    return referrer


CANONICAL_FIELD_BY_IDENTIFIER = {
    IdentifierType.EMAIL: "email",
    IdentifierType.MOBILE: "phone",
    IdentifierType.EXTERNAL_ID: "external_id",
}


def fill_from_identifiers(profile: dict[str, Any], accounts: list[CleanAccount]) -> None:
    """A customer registered with an email, mobile or externalId identifier has it as its own."""
    for account in accounts:
        for identifier in account.identifiers:
            name = CANONICAL_FIELD_BY_IDENTIFIER.get(identifier.type)
            if name and not profile.get(name):
                profile[name] = identifier.value


# A customer is registered with something to know them by; the rest of a profile may be empty.
IDENTIFYING_FIELDS = ("first_name", "last_name", "email", "phone", "external_id")
UNIDENTIFIED_MESSAGE = (
    "A customer needs a first or last name, an email, a phone, an external id, an identifier "
    "or a channel."
)


def check_identifiable(
    profile: dict[str, Any], accounts: list[CleanAccount], channels: list[ChannelInput]
) -> None:
    """Refuses a registration with none of IDENTIFYING_FIELDS, no identifier and no channel: a
    blank customer that no one could find, reach or tell apart (call it after
    fill_from_identifiers)."""
    if any(profile.get(name) for name in IDENTIFYING_FIELDS) or channels:
        return
    if any(account.identifiers for account in accounts):
        return
    raise DomainError(ErrorCode.REQUIRED, UNIDENTIFIED_MESSAGE, field=None)


# --- uniqueness --------------------------------------------------------------------------------

TAKEN_CODES = {
    "email": ErrorCode.EMAIL_TAKEN,
    "phone": ErrorCode.PHONE_TAKEN,
    "external_id": ErrorCode.EXTERNAL_ID_TAKEN,
}


def check_profile_unique(
    organization: Organization, profile: dict[str, Any], *, exclude: Customer | None = None
) -> None:
    given = {name: profile[name] for name in TAKEN_CODES if profile.get(name)}
    if not given:
        return
    condition = Q(pk__in=[])
    for name, value in given.items():
        condition |= Q(**{name: value})
    others = Customer.objects.filter(condition, organization=organization)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    for row in others.values(*given)[: len(given)]:
        for name, value in given.items():
            if row[name] == value:
                raise DomainError(
                    TAKEN_CODES[name], f"Another customer already has this {name}.", field=name
                )


def matching_customer_id(organization: Organization, accounts: list[CleanAccount]) -> int | None:
    """The one existing customer the identifiers belong to, if any.

    An identifier already registered in the same source account means the customer exists for
    that source; identifiers of more than one customer cannot be registered together.
    """
    identifiers = [identifier for account in accounts for identifier in account.identifiers]
    if not identifiers:
        return None
    account_of = {
        (identifier.type, identifier.value, account.key): identifier
        for account in accounts
        for identifier in account.identifiers
    }
    condition = Q()
    for identifier in identifiers:
        condition |= Q(type=identifier.type, value=identifier.value)
    customer_ids: set[int] = set()
    for customer_id, source, account_id, type_, value in Identifier.objects.filter(
        condition, organization=organization
    ).values_list("customer_id", "source", "account_id", "type", "value"):
        same_account = account_of.get((type_, value, (source, account_id)))
        if same_account is not None:
            raise DomainError(
                ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
                f"A customer with {type_} {value!r} already exists in {source}.",
                field=same_account.path,
            )
        customer_ids.add(customer_id)

    canonical = Q(pk__in=[])
    for identifier in identifiers:
        name = CANONICAL_FIELD_BY_IDENTIFIER.get(identifier.type)
        if name:
            canonical |= Q(**{name: identifier.value})
    customer_ids.update(
        Customer.objects.filter(canonical, organization=organization).values_list("pk", flat=True)
    )
    if len(customer_ids) > 1:
        raise DomainError(
            ErrorCode.IDENTIFIERS_CONFLICT,
            "These identifiers belong to more than one customer.",
            field="source_accounts",
        )
    return customer_ids.pop() if customer_ids else None
