"""The audit trail: each change to a customer's data, with who made it and from where.

Services record; nothing else writes events. Values are kept as JSON: dates as ISO text,
related rows by their name or code.
"""

from crm.actors import Actor
from crm.audit import as_json

from .models import AuditEvent, Customer


def event(
    customer: Customer, *, subject: str, action: str, changes: dict, actor: Actor
) -> AuditEvent:
    """An unsaved event, for callers that save many at once."""
    return AuditEvent(
        organization_id=customer.organization_id,
        customer=customer,
        customer_public_id=customer.public_id,
        subject=subject,
        action=action,
        changes={name: [as_json(b), as_json(a)] for name, (b, a) in changes.items()},
        actor=str(actor),
        actor_context=actor.context,
        request_id=actor.request_id,
    )


def record(customer: Customer, *, subject: str, action: str, changes: dict, actor: Actor) -> None:
    event(customer, subject=subject, action=action, changes=changes, actor=actor).save()


def identifier_label(identifier) -> str:
    """An identifier as people name it: "cardnumber in INSTORE", "line in LINE/acc-1"."""
    account = f"/{identifier.account_id}" if identifier.account_id else ""
    return f"{identifier.type} in {identifier.source}{account}"


def channel_label(channel) -> str:
    return f"{channel.type} {channel.value}"


def changed_fields(row, names, before: dict) -> dict:
    """{name: (before, after)} for the fields of `row` whose value differs from `before`."""
    return {
        name: (before[name], getattr(row, name))
        for name in names
        if before[name] != getattr(row, name)
    }
