"""A customer's communication channels: added, changed, removed; one primary per type."""

from django.db import transaction

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from customers import audit
from customers.closure import customer_lock_open
from customers.inputs import ChannelInput
from customers.models import CommChannel, Customer
from customers.services.touch import customer_touch
from customers.validation import clean_channel


def new_channel(customer: Customer, channel: ChannelInput) -> CommChannel:
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


def channel_create(customer: Customer, channel: ChannelInput, actor: Actor) -> CommChannel:
    """Add a channel to a customer who has channels already: a new primary demotes the old."""
    if channel.primary:
        customer.channels.filter(type=channel.type, primary=True).update(primary=False)
    new = new_channel(customer, channel)
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


def channel_apply(channel: CommChannel, data: ChannelInput, actor: Actor) -> bool:
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
    channel = channel_create(customer, channel_validate(customer=customer, data=data), actor)
    customer_touch(customer.pk)
    return channel


@transaction.atomic
def channel_update(
    *, channel: CommChannel, data: ChannelInput, actor: Actor = SYSTEM
) -> CommChannel:
    """Change a channel's value and flags; its type stays."""
    customer_lock_open(channel.customer_id)
    cleaned = channel_validate(customer=channel.customer, data=data, exclude=channel)
    if channel_apply(channel, cleaned, actor):
        customer_touch(channel.customer_id)
    return channel


@transaction.atomic
def channel_remove(*, channel: CommChannel, actor: Actor = SYSTEM) -> None:
    customer_lock_open(channel.customer_id)
    channel.delete()
    customer_touch(channel.customer_id)
    audit.record(
        channel.customer,
        subject="channel",
        action="removed",
        changes={audit.channel_label(channel): (channel.value, None)},
        actor=actor,
    )


def channels_add_missing(customer: Customer, channels: list[ChannelInput], actor: Actor) -> None:
    """Add those of the channels the customer does not have yet."""
    existing = {(c.type, c.value): c for c in customer.channels.all()}
    for channel in channels:
        if (channel.type, channel.value) not in existing:
            channel_create(customer, channel, actor)
