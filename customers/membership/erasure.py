"""Erasing a customer: their personal data is removed for good, but their loyalty ledgers stay,
so that totals and counts stay true. It runs in one transaction and is recorded in the audit
trail.
"""

import json
import re
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from crm.actors import Actor
from crm.models import IdempotencyRecord
from customers import audit
from customers.choices import CustomerStatus
from customers.closure import ERASED_TEXT
from customers.models import AuditEvent, CommChannel, Customer, Identifier, SourceAccount
from loyalty.services.erasure import loyalty_erase

from .closing import PERSONAL_FIELDS, closed_error

ERASED_REPLAY = {
    "detail": "This response held personal data of a customer since erased; it is no longer kept."
}


def customer_erase(*, customer: Customer, actor: Actor) -> None:
    """Remove the customer's personal data, for good: their profile, source account names and
    fields, identifiers, channels, the addresses card links went to, the values in their change
    history and in the admin's log, and the API responses kept for idempotent retries that show
    them. Enrolments, ledgers, cards and coupons stay, so totals and counts do not change; so does
    the customer id, now of an anonymous customer."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.erased_at is not None:
            raise closed_error(f"{customer.public_id} was already erased.")
        if customer.merged_into_id is not None:
            raise closed_error(
                f"{customer.public_id} was merged into another customer: erase that one."
            )
        ids = [customer.pk, *customer.merged_away.values_list("pk", flat=True)]
        personal = _personal_values(ids)
        now = timezone.now()
        Customer.objects.filter(pk__in=ids).update(
            **PERSONAL_FIELDS, import_digest=None, updated_at=now
        )
        Customer.objects.filter(pk=customer.pk).update(
            status=CustomerStatus.DELETED, status_label=None, erased_at=now
        )
        SourceAccount.objects.filter(customer_id__in=ids).update(
            first_name="", last_name="", custom_fields={}
        )
        Identifier.objects.filter(customer_id__in=ids).delete()
        CommChannel.objects.filter(customer_id__in=ids).delete()
        loyalty_erase(customer_ids=ids)
        AuditEvent.objects.filter(
            Q(customer_id__in=ids) | Q(customer_public_id=customer.public_id)
        ).update(changes={}, actor_context={})
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Customer),
            object_id__in=[str(pk) for pk in ids],
        ).update(object_repr=ERASED_TEXT, change_message="")
        _forget_replays(customer.organization_id, personal)
        customer.refresh_from_db()
        audit.record(customer, subject="customer", action="erased", changes={}, actor=actor)


def _personal_values(ids: list[int]) -> set[str]:
    """The values by which an API response can name these customers: their ids, emails, phones
    and external ids, and the values of their identifiers and channels."""
    values = set()
    for row in Customer.objects.filter(pk__in=ids).values_list(
        "public_id", "email", "phone", "external_id"
    ):
        values.update(row)
    values.update(Identifier.objects.filter(customer_id__in=ids).values_list("value", flat=True))
    values.update(CommChannel.objects.filter(customer_id__in=ids).values_list("value", flat=True))
    return {value for value in values if value}


def _json_strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)


def _as_json_text(value: str) -> set[str]:
    """How the value appears inside a JSON column read as text: escaped as JSON, with non-ASCII
    characters as they are (PostgreSQL's jsonb) or as \\u escapes (SQLite's JSON text)."""
    return {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def _forget_replays(organization_id: int, values: set[str]) -> None:
    """Responses kept for idempotent retries (48 hours) that mention one of these values, as a
    field or quoted in a message ("cardnumber 'X' is already registered"), keep their status but
    lose their body: a retry still does nothing twice."""
    mentioning = reduce(
        or_, (Q(body__icontains=text) for value in values for text in _as_json_text(value))
    )
    candidates = (
        IdempotencyRecord.objects.annotate(body=Cast("response_body", TextField()))
        .filter(mentioning, api_key__organization_id=organization_id)
        .values_list("pk", "response_body")
    )
    # The text search finds candidates; a value counts where it stands as a whole word of a
    # string, not as part of a longer one (a card number "12" in a date).
    mention = re.compile(
        "|".join(
            rf"(?<!\w){re.escape(value)}(?!\w)" for value in sorted(values, key=len, reverse=True)
        ),
        re.IGNORECASE,
    )
    holding = [pk for pk, body in candidates if any(map(mention.search, _json_strings(body)))]
    IdempotencyRecord.objects.filter(pk__in=holding).update(response_body=ERASED_REPLAY)
