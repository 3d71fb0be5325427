"""Customer operations: register, update, upsert, delete; identifiers and channels.

Every door calls these. Each validates its whole input before it writes, runs in one
transaction and raises DomainError (with a stable code and the offending field) on bad input.
"""

import re
import secrets
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone

from crm import audit as config_audit
from crm.actors import SYSTEM, Actor
from crm.background import enqueue
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from loyalty import services as loyalty_services
from loyalty.models import Program, StampCard
from loyalty.side_effects import SideEffect

from . import audit
from .closure import customer_lock_open, customer_refuse_closed
from .inputs import (
    ChannelInput,
    CustomerInput,
    IdentifierInput,
    enrollment_as_dict,
)
from .models import (
    AuditEvent,
    CommChannel,
    Customer,
    CustomerStatus,
    ExtendedFieldDefinition,
    ExtendedFieldScope,
    ExtendedFieldType,
    Identifier,
    IdentifierType,
    LoyaltyType,
    SourceAccount,
    StatusLabel,
)
from .normalization import (
    clean_source,
    clean_text,
    require_choice,
)
from .validation import (
    CANONICAL_FIELD_BY_IDENTIFIER,
    TAKEN_CODES,
    CleanAccount,
    check_profile_unique,
    clean_accounts,
    clean_channel,
    clean_channels,
    clean_identifier,
    clean_profile,
    fill_from_identifiers,
    matching_customer_id,
    programs_for,
    referrer_for,
    stamp_cards_for,
)


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
    side_effects: list[SideEffect] = field(default_factory=list)


# --- writes ------------------------------------------------------------------------------------


def _created(
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


def _default_label(organization: Organization) -> StatusLabel | None:
    return StatusLabel.objects.filter(organization=organization, is_default=True).first()


def _new_customer(
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
            profile[name] = _merge_fields({}, profile[name])
    return Customer(organization=organization, referred_by=referrer, **profile), warnings


def _new_account(customer: Customer, account: CleanAccount) -> SourceAccount:
    return SourceAccount(
        customer=customer,
        source=account.source,
        account_id=account.account_id,
        first_name=account.first_name,
        last_name=account.last_name,
        custom_fields=account.custom_fields,
    )


def _new_identifiers(source_account: SourceAccount, account: CleanAccount) -> list[Identifier]:
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


def _create_account(customer: Customer, account: CleanAccount) -> None:
    source_account = _new_account(customer, account)
    source_account.save()
    Identifier.objects.bulk_create(_new_identifiers(source_account, account))


REFERRAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _referral_codes(organization: Organization, count: int) -> list[str]:
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
        taken = _existing_values(organization, "referral_code", candidates)
        codes |= candidates - taken
    return list(codes)[:count]


def _existing_values(organization: Organization, column: str, values: set[str]) -> set[str]:
    """Which of `values` a customer of the organization has in `column` (an indexed one)."""
    return {value for _, value in _existing_own(organization, {column: values})}


def _existing_own(organization: Organization, wanted: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(column, value) for each of the values, by column, that a customer holds: one query."""
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


def _new_referral_code(organization: Organization) -> str:
    return _referral_codes(organization, 1)[0]


def _merge_fields(current: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    merged = {**current, **given}
    return {key: value for key, value in merged.items() if value is not None}


def _enrol_all(
    customer: Customer,
    data: CustomerInput,
    programs: dict[int, Program],
    stamp_cards: dict[int, StampCard],
    actor: Actor,
    result: CustomerResult,
    *,
    skip_existing: bool,
) -> None:
    organization = customer.organization
    enrolled = (
        set(customer.enrollments.values_list("program_id", flat=True)) if skip_existing else set()
    )
    for i, enrollment in enumerate(data.enrollments):
        program = programs[enrollment.program_id]
        if skip_existing and program.pk in enrolled:
            result.warnings.append(
                ServiceWarning("already_enrolled", f"Already enrolled in {program.name!r}.")
            )
            continue
        try:
            outcome = loyalty_services.enrollment_create(
                organization=organization,
                customer=customer,
                program=program,
                tier_number=enrollment.tier_number,
                tier_expires_at=enrollment.tier_expires_at,
                points=enrollment.points,
                points_expire_at=enrollment.points_expire_at,
                actor=actor,
            )
        except DomainError as error:
            raise error.at(f"enrollments[{i}]") from None
        result.side_effects.extend(outcome.side_effects)
    carded = set(customer.cards.values_list("stamp_card_id", flat=True)) if skip_existing else set()
    for i, card_id in enumerate(data.stamp_card_ids):
        if skip_existing and card_id in carded:
            continue
        try:
            outcome = loyalty_services.card_enroll(
                organization=organization,
                customer=customer,
                stamp_card=stamp_cards[card_id],
                actor=actor,
            )
        except DomainError as error:
            raise error.at(f"stamp_card_ids[{i}]") from None
        result.side_effects.extend(outcome.side_effects)


def _enrol_later(
    customer: Customer,
    data: CustomerInput,
    programs: dict[int, Program],
    stamp_cards: dict[int, StampCard],
    actor: Actor,
) -> None:
    """Check the enrolments now; enqueue the job that makes them once this transaction commits."""
    from .tasks import enrol_task  # here, not at the top: the tasks module imports this one

    for i, enrollment in enumerate(data.enrollments):
        try:
            loyalty_services.enrollment_validate(
                organization=customer.organization,
                customer=customer,
                program=programs[enrollment.program_id],
                tier_number=enrollment.tier_number,
            )
        except DomainError as error:
            raise error.at(f"enrollments[{i}]") from None
    for i, card_id in enumerate(data.stamp_card_ids):
        if customer.cards.filter(stamp_card_id=card_id).exists():
            raise DomainError(
                ErrorCode.ALREADY_ENROLLED,
                f"The customer already has a {stamp_cards[card_id].name!r} card.",
                field=f"stamp_card_ids[{i}]",
            )
    enqueue(
        enrol_task,
        customer.pk,
        [enrollment_as_dict(enrollment) for enrollment in data.enrollments],
        data.stamp_card_ids,
        actor.as_dict(),
    )


def _touch(customer_id: int) -> None:
    """Move the customer's updated_at: something of theirs other than the profile changed."""
    Customer.objects.filter(pk=customer_id).update(updated_at=timezone.now())


def _add_channels(customer: Customer, channels: list[ChannelInput], actor: Actor) -> None:
    existing = {(c.type, c.value): c for c in customer.channels.all()}
    for channel in channels:
        if (channel.type, channel.value) not in existing:
            _channel_create(customer, channel, actor)


def customer_register(
    *, organization: Organization, data: CustomerInput, actor: Actor = SYSTEM
) -> CustomerResult:
    """Register a customer, or add source accounts to the customer its identifiers belong to.

    Identifiers already registered in another source attach the new source accounts to that
    customer (nothing else of the existing customer changes); an identifier already present in
    the same source account is refused with CUSTOMER_EXISTS_FOR_SOURCE.
    """
    profile = clean_profile(organization, data.given())
    accounts = clean_accounts(organization, data.source_accounts)
    channels = clean_channels(organization, data.channels)
    programs = programs_for(organization, data)
    stamp_cards = stamp_cards_for(organization, data)
    referrer = referrer_for(organization, data.referral_code)
    fill_from_identifiers(profile, accounts)
    register = partial(
        _register,
        organization,
        data,
        profile,
        accounts,
        channels,
        programs,
        stamp_cards,
        referrer,
        actor,
    )
    try:
        with transaction.atomic():
            return register()
    except IntegrityError:
        pass
    except DomainError as error:
        if error.code not in TAKEN_CODES.values():
            raise
    # A concurrent registration of the same customer committed between our checks and our
    # writes: answer again with its rows visible (attach to it, or report what is taken).
    with transaction.atomic():
        return register()


def _register(
    organization: Organization,
    data: CustomerInput,
    profile: dict[str, Any],
    accounts: list[CleanAccount],
    channels: list[ChannelInput],
    programs: dict[int, Program],
    stamp_cards: dict[int, StampCard],
    referrer: Customer | None,
    actor: Actor,
) -> CustomerResult:
    existing_id = matching_customer_id(organization, accounts)
    if existing_id is not None:
        existing = Customer.objects.select_for_update().get(pk=existing_id)
        return _attach(existing, data, accounts, channels, programs, stamp_cards, actor)
    check_profile_unique(organization, profile)
    customer, warnings = _new_customer(
        organization, profile, referrer, _default_label(organization)
    )
    customer.referral_code = _new_referral_code(organization)
    customer.save()
    audit.record(customer, **_created(customer, profile, accounts, actor, channels))
    result = CustomerResult(customer=customer, created=True, warnings=warnings)
    for account in accounts:
        _create_account(customer, account)
    CommChannel.objects.bulk_create(_new_channel(customer, channel) for channel in channels)
    _enrol_all(customer, data, programs, stamp_cards, actor, result, skip_existing=False)
    if referrer is not None:
        result.side_effects.extend(
            loyalty_services.referral_reward(
                organization=organization, referee=customer, referrer=referrer, actor=actor
            )
        )
    return result


def _attach(
    customer: Customer,
    data: CustomerInput,
    accounts: list[CleanAccount],
    channels: list[ChannelInput],
    programs: dict[int, Program],
    stamp_cards: dict[int, StampCard],
    actor: Actor,
) -> CustomerResult:
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
        _create_account(customer, account)
        result.warnings.append(
            ServiceWarning(
                SOURCE_ACCOUNT_ADDED,
                f"Source account {account.source} added to the existing customer "
                f"{customer.public_id}.",
            )
        )
    _add_channels(customer, channels, actor)
    _touch(customer.pk)
    _enrol_all(customer, data, programs, stamp_cards, actor, result, skip_existing=True)
    return result


def customer_validate(
    *, organization: Organization, data: CustomerInput, customer: Customer | None = None
) -> None:
    """Every check that registering (no `customer`) or updating would make; nothing is written.

    For forms that want to show errors before they save.
    """
    profile = clean_profile(organization, data.given())
    clean_channels(organization, data.channels)
    programs_for(organization, data)
    stamp_cards_for(organization, data)
    if customer is None:
        accounts = clean_accounts(organization, data.source_accounts)
        referrer_for(organization, data.referral_code)
        fill_from_identifiers(profile, accounts)
        if matching_customer_id(organization, accounts) is None:
            check_profile_unique(organization, profile)
    else:
        customer_refuse_closed(customer)
        _refuse_registration_only(data)
        _check_update(customer, profile)


def _refuse_registration_only(data: CustomerInput) -> None:
    if data.source_accounts:
        raise DomainError(
            ErrorCode.IDENTIFIER_IMMUTABLE,
            "Identifiers and sources cannot be changed by an update; add or remove identifiers.",
            field="source_accounts",
        )
    if data.referral_code:
        raise DomainError(
            ErrorCode.INVALID,
            "A referral code is only taken at registration.",
            field="referral_code",
        )


def _check_update(current: Customer, profile: dict[str, Any]) -> None:
    if (
        profile.get("loyalty_type") == LoyaltyType.NON_LOYALTY
        and current.loyalty_type == LoyaltyType.LOYALTY
    ):
        raise DomainError(
            ErrorCode.LOYALTY_TYPE_DOWNGRADE,
            "A loyalty customer cannot become non-loyalty.",
            field="loyalty_type",
        )
    check_profile_unique(current.organization, profile, exclude=current)


def customer_update(
    *,
    customer: Customer,
    data: CustomerInput,
    actor: Actor = SYSTEM,
    loyalty_in_background: bool = False,
) -> CustomerResult:
    """Change what `data` sets and nothing else; add channels, enrolments and cards it lists.

    Identifiers and sources do not change here (see identifier_add/identifier_remove); a loyalty
    customer cannot become non-loyalty; enrolling in a programme twice is refused.

    With `loyalty_in_background`, enrolments and cards are checked now but made by a background
    job after the update commits; their side effects are then not reported.
    """
    _refuse_registration_only(data)
    organization = customer.organization
    profile = clean_profile(organization, data.given())
    channels = clean_channels(organization, data.channels)
    programs = programs_for(organization, data)
    stamp_cards = stamp_cards_for(organization, data)
    with transaction.atomic():
        current = Customer.objects.select_for_update().get(pk=customer.pk)
        customer_refuse_closed(current)
        _check_update(current, profile)
        for name in ("custom_fields", "extended_fields"):
            if name in profile:
                profile[name] = _merge_fields(getattr(current, name), profile[name])
        changed = [name for name, value in profile.items() if _differs(current, name, value)]
        for name in changed:
            setattr(customer, name, profile[name])
        if changed:
            customer.save(update_fields=[*changed, "updated_at"])
            audit.record(
                customer,
                subject="customer",
                action="updated",
                changes={name: (getattr(current, name), profile[name]) for name in changed},
                actor=actor,
            )
        result = CustomerResult(customer=customer, created=False, changed=changed)
        for channel in channels:
            existing = customer.channels.filter(type=channel.type, value=channel.value).first()
            if existing is None:
                _channel_create(customer, channel, actor)
                result.changed.append("channels")
            elif _channel_apply(existing, channel, actor):
                result.changed.append("channels")
        if "channels" in result.changed and not changed:
            _touch(customer.pk)
        if loyalty_in_background:
            _enrol_later(customer, data, programs, stamp_cards, actor)
        else:
            _enrol_all(customer, data, programs, stamp_cards, actor, result, skip_existing=False)
        if data.enrollments or data.stamp_card_ids:
            result.changed.append("enrollments")
    return result


def _differs(customer: Customer, name: str, value: Any) -> bool:
    model_field = Customer._meta.get_field(name)
    if model_field.is_relation:
        return getattr(customer, model_field.attname) != (value.pk if value else None)
    return getattr(customer, name) != value


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
) -> CustomerResult:
    """Update the customer found by email, phone, external id or identifier, or register one.

    `match_by` looks a customer up by other values than `data`'s own email, phone and external
    id: a vendor's key (Jericommerce's email, say, to change it, or Voucherify's source_id
    alone). Identifiers in `data` are always looked up; those the customer lacks are added.
    """
    # The input is checked whole before any customer is looked for: a bad value is reported as
    # such, whoever the other values belong to.
    _upsert_keys(organization, data, match_by)
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


def _upsert_keys(
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
    keys, accounts = _upsert_keys(organization, data, match_by)
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


def _upsert_existing(customer: Customer, data: CustomerInput, actor: Actor) -> CustomerResult:
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


@dataclass
class ItemOutcome:
    """What became of one item of a batch: a result, or the error that refused it."""

    result: CustomerResult | None = None
    error: DomainError | None = None


@dataclass
class _NewCustomer:
    """A batch item that registers a new customer with nothing but rows of its own."""

    index: int
    profile: dict[str, Any]
    accounts: list[CleanAccount]
    channels: list[ChannelInput]


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
    candidates: dict[int, _NewCustomer] = {}
    for index, data in enumerate(items):
        if data.enrollments or data.stamp_card_ids or data.referral_code:
            continue
        try:
            _, accounts = _upsert_keys(organization, data)
            profile = clean_profile(organization, data.given())
            channels = clean_channels(organization, data.channels)
        except DomainError:
            continue  # customer_upsert reports it, exactly as it would alone
        fill_from_identifiers(profile, accounts)
        candidates[index] = _NewCustomer(index, profile, accounts, channels)
    taken: set[tuple] | None = None
    pending: list[_NewCustomer] = []
    for index, data in enumerate(items):
        candidate = candidates.get(index)
        if candidate is not None:
            if taken is None:  # what customers hold now, of the keys the rest of the batch uses
                rest = [c for i, c in candidates.items() if i >= index]
                taken = _taken_keys(organization, set().union(*map(_keys_of, rest)))
            if not _keys_of(candidate) & taken:
                taken |= _keys_of(candidate)
                pending.append(candidate)
                continue
        _register_many(organization, pending, outcomes, items, actor)
        pending = []
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


def _keys_of(candidate: _NewCustomer) -> set[tuple]:
    """Every value by which another customer could collide with this one."""
    keys = {(name, candidate.profile.get(name)) for name in TAKEN_CODES}
    # Its own email, phone and external id are matched by identifiers of those types too.
    keys |= {
        ("identifier", identifier_type, candidate.profile.get(name))
        for identifier_type, name in CANONICAL_FIELD_BY_IDENTIFIER.items()
    }
    keys |= {
        ("identifier", identifier.type, identifier.value)
        for account in candidate.accounts
        for identifier in account.identifiers
    }
    return {key for key in keys if key[-1]}


def _taken_keys(organization: Organization, wanted: set[tuple]) -> set[tuple]:
    """Those of the keys (as _keys_of gives them) that existing customers hold: a few queries,
    each by index (a customer's own email, phone and external id also match identifiers of
    those types)."""
    own: dict[str, set[str]] = {name: set() for name in TAKEN_CODES}
    by_type: dict[str, set[str]] = {}
    for key in wanted:
        if key[0] == "identifier":
            by_type.setdefault(key[1], set()).add(key[2])
            name = CANONICAL_FIELD_BY_IDENTIFIER.get(key[1])
            if name:
                own[name].add(key[2])
        else:
            own[key[0]].add(key[1])
    taken = _existing_own(organization, own)
    for identifier_type, name in CANONICAL_FIELD_BY_IDENTIFIER.items():
        taken |= {("identifier", identifier_type, key[1]) for key in taken if key[0] == name}
    taken |= {
        ("identifier", type_, value)
        for type_, value in _existing_identifiers(organization, by_type)
    }
    return taken


def _existing_identifiers(
    organization: Organization, wanted: dict[str, set[str]]
) -> set[tuple[str, str]]:
    """(type, value) for each of the values, by identifier type, that an identifier has."""
    wanted = {type_: values for type_, values in wanted.items() if values}
    if not wanted:
        return set()
    if connection.vendor == "postgresql":
        selects, params = [], []
        for type_, values in wanted.items():
            selects.append(
                "SELECT %s, i.value FROM unnest(%s::text[]) AS u(v), LATERAL (SELECT value "
                "FROM customers_identifier WHERE organization_id = %s AND type = %s "
                "AND value = u.v LIMIT 1) AS i"
            )
            params += [type_, list(values), organization.pk, type_]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            return set(cursor.fetchall())
    lookups = Q(pk__in=[])
    for type_, values in wanted.items():  # by type: the lookup index starts with it
        lookups |= Q(type=type_, value__in=values)
    return set(
        Identifier.objects.filter(lookups, organization=organization).values_list("type", "value")
    )


def _register_many(
    organization: Organization,
    pending: list[_NewCustomer],
    outcomes: list[ItemOutcome],
    items: list[CustomerInput],
    actor: Actor,
) -> None:
    """Register the new customers in one transaction; if that fails (a concurrent writer took
    one of their keys meanwhile), register each alone, as customer_upsert decides."""
    if not pending:
        return
    try:
        with transaction.atomic():
            results = _write_new_customers(organization, pending, actor)
    except IntegrityError:
        for candidate in pending:
            outcomes[candidate.index] = _upsert_alone(organization, items[candidate.index], actor)
        return
    for candidate, result in zip(pending, results, strict=True):
        outcomes[candidate.index] = ItemOutcome(result=result)


def _write_new_customers(
    organization: Organization, pending: list[_NewCustomer], actor: Actor
) -> list[CustomerResult]:
    default_label = _default_label(organization)
    codes = _referral_codes(organization, len(pending))
    results = []
    for candidate, code in zip(pending, codes, strict=True):
        customer, warnings = _new_customer(organization, candidate.profile, None, default_label)
        customer.referral_code = code
        results.append(CustomerResult(customer=customer, created=True, warnings=warnings))
    Customer.objects.bulk_create([result.customer for result in results])
    AuditEvent.objects.bulk_create(
        audit.event(
            result.customer,
            **_created(
                result.customer, candidate.profile, candidate.accounts, actor, candidate.channels
            ),
        )
        for candidate, result in zip(pending, results, strict=True)
    )
    accounts = [
        (_new_account(result.customer, account), account)
        for candidate, result in zip(pending, results, strict=True)
        for account in candidate.accounts
    ]
    SourceAccount.objects.bulk_create([source_account for source_account, _ in accounts])
    Identifier.objects.bulk_create(
        identifier
        for source_account, account in accounts
        for identifier in _new_identifiers(source_account, account)
    )
    CommChannel.objects.bulk_create(
        _new_channel(result.customer, channel)
        for candidate, result in zip(pending, results, strict=True)
        for channel in candidate.channels
    )
    return results


@transaction.atomic
def customer_delete(*, customer: Customer, actor: Actor = SYSTEM) -> None:
    """Delete the customer with everything that is theirs (accounts, identifiers, ledgers).

    The deletion stays on record; the customer's earlier events stay too, unlinked.
    """
    audit.record(customer, subject="customer", action="deleted", changes={}, actor=actor)
    customer.delete()


# --- identifiers -------------------------------------------------------------------------------


def identifier_validate(
    *,
    organization: Organization,
    source: str,
    account_id: str,
    data: IdentifierInput,
    exclude: Identifier | None = None,
) -> tuple[str, str, IdentifierInput]:
    """The source, account id and identifier, normalised; refused if the source account has it."""
    source = clean_source(source)
    account_id = clean_text(account_id or "", max_length=64, field="account_id")
    cleaned = clean_identifier(organization.default_region, data, "")
    taken = Identifier.objects.filter(
        organization=organization,
        source=source,
        account_id=account_id,
        type=cleaned.type,
        value=cleaned.value,
    )
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise DomainError(
            ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
            f"{cleaned.type} {cleaned.value!r} is already registered in {source}.",
            field="value",
        )
    identifier = IdentifierInput(
        type=cleaned.type,
        value=cleaned.value,
        series_id=cleaned.series_id,
        status_label=cleaned.status_label,
        extended_fields=cleaned.extended_fields,
    )
    return source, account_id, identifier


@transaction.atomic
def identifier_add(
    *,
    customer: Customer,
    source: str,
    account_id: str = "",
    data: IdentifierInput,
    actor: Actor = SYSTEM,
) -> Identifier:
    """Add an identifier to the customer's account in `source` (created if it has none)."""
    customer_lock_open(customer.pk)
    source, account_id, cleaned = identifier_validate(
        organization=customer.organization, source=source, account_id=account_id, data=data
    )
    source_account, _ = SourceAccount.objects.get_or_create(
        customer=customer, source=source, account_id=account_id
    )
    _touch(customer.pk)
    try:
        with transaction.atomic():
            identifier = Identifier.objects.create(
                organization_id=customer.organization_id,
                customer=customer,
                source_account=source_account,
                source=source,
                account_id=account_id,
                type=cleaned.type,
                value=cleaned.value,
                series_id=cleaned.series_id,
                status_label=cleaned.status_label,
                extended_fields=cleaned.extended_fields,
            )
    except IntegrityError:
        # Registered by a concurrent call between the check and the insert.
        raise DomainError(
            ErrorCode.CUSTOMER_EXISTS_FOR_SOURCE,
            f"{cleaned.type} {cleaned.value!r} is already registered in {source}.",
            field="value",
        ) from None
    audit.record(
        customer,
        subject="identifier",
        action="added",
        changes={audit.identifier_label(identifier): (None, identifier.value)},
        actor=actor,
    )
    return identifier


@transaction.atomic
def identifier_update(
    *, identifier: Identifier, data: IdentifierInput, actor: Actor = SYSTEM
) -> Identifier:
    """Change an identifier's value or card details; its type and source account stay."""
    customer_lock_open(identifier.customer_id)
    if data.type != identifier.type:
        raise DomainError(
            ErrorCode.IDENTIFIER_IMMUTABLE,
            "An identifier's type cannot change; remove it and add another.",
            field="type",
        )
    _, _, cleaned = identifier_validate(
        organization=identifier.organization,
        source=identifier.source,
        account_id=identifier.account_id,
        data=data,
        exclude=identifier,
    )
    names = ["value", "series_id", "status_label", "extended_fields"]
    before = {name: getattr(identifier, name) for name in names}
    identifier.value = cleaned.value
    identifier.series_id = cleaned.series_id
    identifier.status_label = cleaned.status_label
    identifier.extended_fields = cleaned.extended_fields
    changes = audit.changed_fields(identifier, names, before)
    if not changes:
        return identifier
    identifier.save(update_fields=names)
    _touch(identifier.customer_id)
    label = audit.identifier_label(identifier)
    audit.record(
        identifier.customer,
        subject="identifier",
        action="updated",
        changes={f"{label}: {name}": change for name, change in changes.items()},
        actor=actor,
    )
    return identifier


@transaction.atomic
def identifier_remove(*, identifier: Identifier, actor: Actor = SYSTEM) -> None:
    customer_lock_open(identifier.customer_id)
    identifier.delete()
    _touch(identifier.customer_id)
    audit.record(
        identifier.customer,
        subject="identifier",
        action="removed",
        changes={audit.identifier_label(identifier): (identifier.value, None)},
        actor=actor,
    )


# --- channels ----------------------------------------------------------------------------------


def _new_channel(customer: Customer, channel: ChannelInput) -> CommChannel:
    return CommChannel(
        customer=customer,
        type=channel.type,
        value=channel.value,
        primary=channel.primary,
        verified=channel.verified,
        subscribed=channel.subscribed,
        residence=channel.residence,
        office=channel.office,
        last_viewed_at=channel.last_viewed_at,
    )


def _channel_create(customer: Customer, channel: ChannelInput, actor: Actor) -> CommChannel:
    """Add a channel to a customer who has channels already: a new primary demotes the old."""
    if channel.primary:
        customer.channels.filter(type=channel.type, primary=True).update(primary=False)
    new = _new_channel(customer, channel)
    new.save()
    flags = {name: (None, getattr(new, name)) for name in CHANNEL_FLAGS if getattr(new, name)}
    audit.record(
        customer,
        subject="channel",
        action="added",
        changes={audit.channel_label(new): (None, new.value), **flags},
        actor=actor,
    )
    return new


CHANNEL_FLAGS = ("primary", "verified", "subscribed", "residence", "office", "last_viewed_at")


def _channel_apply(channel: CommChannel, data: ChannelInput, actor: Actor) -> bool:
    """Give an existing channel the value and flags in `data`; True when anything changed."""
    changed = [
        name for name in ("value", *CHANNEL_FLAGS) if getattr(channel, name) != getattr(data, name)
    ]
    if not changed:
        return False
    audit.record(
        channel.customer,
        subject="channel",
        action="updated",
        changes={
            f"{audit.channel_label(channel)}: {name}": (getattr(channel, name), getattr(data, name))
            for name in changed
        },
        actor=actor,
    )
    if data.primary and not channel.primary:
        CommChannel.objects.filter(
            customer_id=channel.customer_id, type=channel.type, primary=True
        ).update(primary=False)
    for name in changed:
        setattr(channel, name, getattr(data, name))
    channel.save(update_fields=[*changed, "updated_at"])
    return True


def channel_validate(
    *, customer: Customer, data: ChannelInput, exclude: CommChannel | None = None
) -> ChannelInput:
    """The channel, normalised; refused if the customer already has it."""
    cleaned = clean_channel(customer.organization.default_region, data, "")
    if exclude is not None and cleaned.type != exclude.type:
        raise DomainError(
            ErrorCode.INVALID,
            "A channel's type cannot change; remove it and add another.",
            field="type",
        )
    taken = CommChannel.objects.filter(customer=customer, type=cleaned.type, value=cleaned.value)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if customer.pk and taken.exists():
        raise DomainError(
            ErrorCode.CHANNEL_TAKEN, "The customer already has this channel.", field="value"
        )
    return cleaned


@transaction.atomic
def channel_add(*, customer: Customer, data: ChannelInput, actor: Actor = SYSTEM) -> CommChannel:
    customer_lock_open(customer.pk)
    channel = _channel_create(customer, channel_validate(customer=customer, data=data), actor)
    _touch(customer.pk)
    return channel


@transaction.atomic
def channel_update(
    *, channel: CommChannel, data: ChannelInput, actor: Actor = SYSTEM
) -> CommChannel:
    """Change a channel's value and flags; its type stays."""
    customer_lock_open(channel.customer_id)
    cleaned = channel_validate(customer=channel.customer, data=data, exclude=channel)
    if _channel_apply(channel, cleaned, actor):
        _touch(channel.customer_id)
    return channel


@transaction.atomic
def channel_remove(*, channel: CommChannel, actor: Actor = SYSTEM) -> None:
    customer_lock_open(channel.customer_id)
    channel.delete()
    _touch(channel.customer_id)
    audit.record(
        channel.customer,
        subject="channel",
        action="removed",
        changes={audit.channel_label(channel): (channel.value, None)},
        actor=actor,
    )


# --- extended field definitions ----------------------------------------------------------------

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
EXTENDED_FIELD_NAME_RULE = (
    "A name is lower-case letters, digits and underscores, starting with a letter."
)


def extended_field_allowed_values(data_type: str, allowed_values: list[str]) -> list[str]:
    if data_type == ExtendedFieldType.ENUM:
        if (
            not isinstance(allowed_values, list)
            or not allowed_values
            or not all(isinstance(v, str) and v.strip() for v in allowed_values)
        ):
            raise DomainError(
                ErrorCode.INVALID, "An enum needs a list of text values.", field="allowed_values"
            )
        return [value.strip() for value in allowed_values]
    if allowed_values:
        raise DomainError(
            ErrorCode.INVALID, "Only enums have allowed values.", field="allowed_values"
        )
    return []


def extended_field_validate(
    *,
    organization: Organization | None,
    name: str,
    data_type: str,
    allowed_values: list[str] | None = None,
    scope: str = ExtendedFieldScope.CUSTOMER,
) -> list[str]:
    """The allowed values of a new extended field, cleaned, or a DomainError: the name is
    lower-case letters, digits and underscores, and not yet the organization's (or, for a global
    field, no other global field's) in its scope."""
    if not isinstance(name, str) or not FIELD_NAME.match(name):
        raise DomainError(
            ErrorCode.INVALID,
            EXTENDED_FIELD_NAME_RULE,
            field="name",
        )
    require_choice(
        data_type, ExtendedFieldType, code=ErrorCode.INVALID, field="data_type", what="data type"
    )
    require_choice(scope, ExtendedFieldScope, code=ErrorCode.INVALID, field="scope", what="scope")
    values = extended_field_allowed_values(data_type, allowed_values or [])
    if ExtendedFieldDefinition.objects.filter(
        organization=organization, scope=scope, name=name
    ).exists():
        raise _extended_field_taken(name)
    return values


def _extended_field_taken(name: str) -> DomainError:
    return DomainError(
        ErrorCode.EXTENDED_FIELD_TAKEN,
        f"The organization already has an extended field {name!r}.",
        field="name",
    )


EXTENDED_FIELD_FIELDS = ("name", "data_type", "allowed_values", "scope")


def extended_field_define(
    *,
    organization: Organization | None,
    name: str,
    data_type: str,
    allowed_values: list[str] | None = None,
    scope: str = ExtendedFieldScope.CUSTOMER,
    actor: Actor = SYSTEM,
) -> ExtendedFieldDefinition:
    """A new extended field of the organization's own (it takes precedence over a global one),
    or, with no organization, a global one."""
    values = extended_field_validate(
        organization=organization,
        name=name,
        data_type=data_type,
        allowed_values=allowed_values,
        scope=scope,
    )
    try:
        with transaction.atomic():
            definition = ExtendedFieldDefinition.objects.create(
                organization=organization,
                name=name,
                data_type=data_type,
                allowed_values=values,
                scope=scope,
            )
            config_audit.record_created(definition, EXTENDED_FIELD_FIELDS, actor=actor)
    except IntegrityError:
        raise _extended_field_taken(name) from None
    return definition


@transaction.atomic
def extended_field_update(
    *, definition: ExtendedFieldDefinition, allowed_values: list[str], actor: Actor = SYSTEM
) -> ExtendedFieldDefinition:
    """An enum's allowed values change; the name and type, which stored values follow, stay."""
    before = config_audit.values_of(definition, ["allowed_values"])
    definition.allowed_values = extended_field_allowed_values(definition.data_type, allowed_values)
    return config_audit.save_changed(definition, before, actor=actor)


@transaction.atomic
def extended_field_delete(*, definition: ExtendedFieldDefinition, actor: Actor = SYSTEM) -> None:
    config_audit.record_deleted(definition, EXTENDED_FIELD_FIELDS, actor=actor)
    definition.delete()


# --- status labels -----------------------------------------------------------------------------

STATUS_LABEL_FIELDS = ("name", "status", "is_default")


def status_label_validate(
    *,
    organization: Organization,
    name: str,
    status: str,
    is_default: bool,
    label: StatusLabel | None = None,
) -> str:
    """The label's name, cleaned, or a DomainError: names are the organization's own whatever
    their case, and one label at most is the default. `label` is the one being changed."""
    name = clean_text(name, max_length=StatusLabel._meta.get_field("name").max_length, field="name")
    if not name:
        raise DomainError(ErrorCode.REQUIRED, "A status label needs a name.", field="name")
    require_choice(
        status, CustomerStatus, code=ErrorCode.INVALID, field="status", what="customer status"
    )
    others = StatusLabel.objects.filter(organization=organization)
    if label is not None:
        others = others.exclude(pk=label.pk)
    if others.filter(name__iexact=name).exists():
        raise DomainError(
            ErrorCode.STATUS_LABEL_TAKEN,
            f"The organization already has a status label {name!r}.",
            field="name",
        )
    if is_default and (default := others.filter(is_default=True).first()):
        raise DomainError(
            ErrorCode.DEFAULT_STATUS_LABEL_TAKEN,
            f"{default.name!r} is the default status label: make it not the default first.",
            field="is_default",
        )
    return name


def status_label_create(
    *,
    organization: Organization,
    name: str,
    status: str,
    is_default: bool = False,
    actor: Actor = SYSTEM,
) -> StatusLabel:
    name = status_label_validate(
        organization=organization, name=name, status=status, is_default=is_default
    )
    try:
        with transaction.atomic():
            label = StatusLabel.objects.create(
                organization=organization, name=name, status=status, is_default=is_default
            )
            config_audit.record_created(label, STATUS_LABEL_FIELDS, actor=actor)
    except IntegrityError:
        # A concurrent label took the name or the default: say which, as the checks do.
        status_label_validate(
            organization=organization, name=name, status=status, is_default=is_default
        )
        raise
    return label


def status_label_update(
    *, label: StatusLabel, name: str, status: str, is_default: bool, actor: Actor = SYSTEM
) -> StatusLabel:
    """Customers with the label take its new status from their next change on."""
    name = status_label_validate(
        organization=label.organization,
        name=name,
        status=status,
        is_default=is_default,
        label=label,
    )
    before = config_audit.values_of(label, STATUS_LABEL_FIELDS)
    label.name, label.status, label.is_default = name, status, is_default
    with transaction.atomic():
        return config_audit.save_changed(label, before, actor=actor)


@transaction.atomic
def status_label_delete(*, label: StatusLabel, actor: Actor = SYSTEM) -> None:
    config_audit.record_deleted(label, STATUS_LABEL_FIELDS, actor=actor)
    try:
        label.delete()
    except ProtectedError:
        raise DomainError(
            ErrorCode.IN_USE, f"Customers have the status label {label.name!r}.", field=None
        ) from None
