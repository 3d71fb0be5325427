"""Registering a customer with the enrolments, stamp cards and referral reward the
registration asks for; checking a registration or an update without writing."""

from functools import partial
from typing import Any

from django.db import IntegrityError, transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError
from crm.models import Organization
from customers.closure import customer_refuse_closed
from customers.inputs import ChannelInput, CustomerInput
from customers.membership.enrolment import (
    MembershipResult,
    enrol_all,
    programs_for,
    stamp_cards_for,
)
from customers.models import Customer
from customers.services.registration import customer_identity_register
from customers.services.update import check_update, refuse_registration_only
from customers.validation import (
    TAKEN_CODES,
    CleanAccount,
    check_identifiable,
    check_profile_unique,
    clean_accounts,
    clean_channels,
    clean_profile,
    fill_from_identifiers,
    matching_customer_id,
    referrer_for,
)
from loyalty.models import Program, StampCard
from loyalty.services.points import referral_reward


def customer_register(
    *, organization: Organization, data: CustomerInput, actor: Actor = SYSTEM
) -> MembershipResult:
    """Register a customer, or add source accounts to the customer its identifiers belong to.

    Identifiers already registered in another source attach the new source accounts to that
    customer (nothing else of the existing customer changes); an identifier already present in
    the same source account is refused with CUSTOMER_EXISTS_FOR_SOURCE. A registration with no
    name, email, phone, external id, identifier or channel is refused with REQUIRED.
    """
    profile = clean_profile(organization, data.given())
    accounts = clean_accounts(organization, data.source_accounts)
    channels = clean_channels(organization, data.channels)
    programs = programs_for(organization, data)
    stamp_cards = stamp_cards_for(organization, data)
    referrer = referrer_for(organization, data.referral_code)
    fill_from_identifiers(profile, accounts)
    check_identifiable(profile, accounts, channels)
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
) -> MembershipResult:
    result = MembershipResult.of(
        customer_identity_register(organization, profile, accounts, channels, referrer, actor)
    )
    customer = result.customer
    # Attached to an existing customer, the registration's enrolments skip those it has.
    enrol_all(
        customer, data, programs, stamp_cards, actor, result, skip_existing=not result.created
    )
    if result.created and referrer is not None:
        referral = referral_reward(
            organization=organization, referee=customer, referrer=referrer, actor=actor
        )
        result.side_effects.extend(referral.side_effects)
        result.warnings.extend(referral.warnings)
    return result


def customer_validate(
    *, organization: Organization, data: CustomerInput, customer: Customer | None = None
) -> None:
    """Every check that registering (no `customer`) or updating would make; nothing is written.

    For forms that want to show errors before they save.
    """
    profile = clean_profile(organization, data.given())
    channels = clean_channels(organization, data.channels)
    programs_for(organization, data)
    stamp_cards_for(organization, data)
    if customer is None:
        accounts = clean_accounts(organization, data.source_accounts)
        referrer_for(organization, data.referral_code)
        fill_from_identifiers(profile, accounts)
        check_identifiable(profile, accounts, channels)
        if matching_customer_id(organization, accounts) is None:
            check_profile_unique(organization, profile)
    else:
        customer_refuse_closed(customer)
        refuse_registration_only(data)
        check_update(customer, profile)
