"""Sending a card's links (its page and wallet passes) to the customer by email and SMS."""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from crm.actors import Actor
from crm.models import Organization
from customers import audit
from customers.closure import customer_refuse_closed
from customers.models import Customer

from ..choices import DeliveryChannel, DeliveryStatus
from ..links import card_links_message
from ..models import CardLinkDelivery, CustomerCard
from ..sms import send_sms
from .common import require_tenant

logger = logging.getLogger(__name__)


@dataclass
class DeliveryResult:
    deliveries: list[CardLinkDelivery] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _link_addresses(customer: Customer) -> dict[str, list[str]]:
    """Where the customer may be sent links: their subscribed email and mobile channels, or,
    for a kind of channel they have none of, their own email or phone."""
    addresses: dict[str, list[str]] = {DeliveryChannel.EMAIL: [], DeliveryChannel.SMS: []}
    kinds = {"email": DeliveryChannel.EMAIL, "mobile": DeliveryChannel.SMS}
    seen_kinds = set()
    for channel in customer.channels.filter(type__in=kinds):
        seen_kinds.add(channel.type)
        if channel.subscribed:
            addresses[kinds[channel.type]].append(channel.value)
    if "email" not in seen_kinds and customer.email:
        addresses[DeliveryChannel.EMAIL].append(customer.email)
    if "mobile" not in seen_kinds and customer.phone:
        addresses[DeliveryChannel.SMS].append(customer.phone)
    return addresses


def card_links_send(
    *, organization: Organization, card: CustomerCard, actor: Actor
) -> DeliveryResult:
    """Send the card's links by email and SMS to every address that has not unsubscribed.

    A delivery row (queued) is written for each address in the caller's transaction; the messages
    go out once it commits, and each row then says sent or failed. A rolled-back transaction sends
    nothing; a failure is recorded, not raised. A customer with nowhere to send to gets a warning.
    """
    require_tenant(card.organization_id, organization, "card")
    customer = card.customer
    customer_refuse_closed(customer)
    result = DeliveryResult()
    with transaction.atomic():
        for channel, addresses in _link_addresses(customer).items():
            result.deliveries.extend(
                CardLinkDelivery.objects.create(
                    customer=customer,
                    card=card,
                    channel=channel,
                    address=address,
                    status=DeliveryStatus.QUEUED,
                )
                for address in addresses
            )
        if not result.deliveries:
            result.warnings.append(
                "The customer has no subscribed email address or phone number to send the links to."
            )
        queued = dict.fromkeys(DeliveryChannel.values, 0)
        for delivery in result.deliveries:
            queued[delivery.channel] += 1
        audit.record(
            customer,
            subject="card",
            action="links sent",
            changes={f"card {card.code}: {channel}": (None, n) for channel, n in queued.items()},
            actor=actor,
        )
        transaction.on_commit(lambda: _card_links_deliver(card, result.deliveries), robust=True)
    return result


def _card_links_deliver(card: CustomerCard, deliveries: list[CardLinkDelivery]) -> None:
    """Send each queued delivery and record how it went (after the commit that queued them)."""
    message = card_links_message(card)
    senders = {
        DeliveryChannel.EMAIL: lambda to: send_mail(
            message.subject,
            message.email_body,
            settings.DEFAULT_FROM_EMAIL,
            [to],
            fail_silently=False,
        ),
        DeliveryChannel.SMS: lambda to: send_sms(to, message.sms_body),
    }
    for delivery in deliveries:
        try:
            senders[delivery.channel](delivery.address)
        except Exception as error:
            delivery.status, delivery.detail = DeliveryStatus.FAILED, str(error)[:255]
            logger.warning("Card links to %s failed: %s", delivery.address, error)
        else:
            delivery.status = DeliveryStatus.SENT
        delivery.save(update_fields=["status", "detail"])
