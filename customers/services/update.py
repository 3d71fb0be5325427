"""Changing a customer's profile and channels, and deleting a customer. Enrolments that come
with an update are customers.membership's."""

from typing import Any

from django.db import transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from customers import audit
from customers.choices import LoyaltyType
from customers.closure import customer_refuse_closed
from customers.inputs import ChannelInput, CustomerInput
from customers.models import Customer
from customers.services.channels import channel_apply, channel_create
from customers.services.registration import CustomerResult, merge_fields
from customers.services.touch import customer_touch
from customers.validation import check_profile_unique


def refuse_registration_only(data: CustomerInput) -> None:
    """Refuse what only a registration takes: source accounts and a referral code."""
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


def check_update(current: Customer, profile: dict[str, Any]) -> None:
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


def customer_profile_update(
    customer: Customer, profile: dict[str, Any], channels: list[ChannelInput], actor: Actor
) -> CustomerResult:
    """Give the customer the cleaned profile values and channels; call inside a transaction.
    The customer is locked first, and refused if closed."""
    current = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_refuse_closed(current)
    check_update(current, profile)
    for name in ("custom_fields", "extended_fields"):
        if name in profile:
            profile[name] = merge_fields(getattr(current, name), profile[name])
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
            channel_create(customer, channel, actor)
            result.changed.append("channels")
        elif channel_apply(existing, channel, actor):
            result.changed.append("channels")
    if "channels" in result.changed and not changed:
        customer_touch(customer.pk)
    return result


def _differs(customer: Customer, name: str, value: Any) -> bool:
    model_field = Customer._meta.get_field(name)
    if model_field.is_relation:
        return getattr(customer, model_field.attname) != (value.pk if value else None)
    return getattr(customer, name) != value


@transaction.atomic
def customer_delete(*, customer: Customer, actor: Actor = SYSTEM) -> None:
    """Delete the customer with everything that is theirs (accounts, identifiers, ledgers).

    The deletion stays on record; the customer's earlier events stay too, unlinked.
    """
    audit.record(customer, subject="customer", action="deleted", changes={}, actor=actor)
    customer.delete()
