"""Reads of customer data, always within one organization."""

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from crm.db import as_date, as_datetime, prepared_cursor, read_ahead
from crm.models import Organization
from loyalty.models import Coupon, CustomerCard, Enrollment, PointsTransaction
from loyalty.selectors import CardView, RewardView, card_view, cards_with_rewards

from .models import (
    AuditEvent,
    Customer,
    ExtendedFieldDefinition,
    ExtendedFieldScope,
    Identifier,
)

SUMMARY_FIELDS = (
    "id",
    "public_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "external_id",
    "loyalty_type",
    "status",
    "created_at",
    "updated_at",
)


def customers_of(organization: Organization) -> QuerySet[Customer]:
    """The organization's customers, without the tombstones of merged-away ones."""
    return Customer.objects.filter(organization=organization, merged_into__isnull=True)


def customer_get(
    *, organization: Organization, public_id: str | None = None, pk: int | None = None
) -> Customer | None:
    """The customer with this public id (or primary key); for a merged-away customer's, the
    customer it was merged into."""
    key = {"public_id": public_id} if public_id is not None else {"pk": pk}
    customer = (
        Customer.objects.filter(organization=organization, **key)
        .select_related("organization", "merged_into__organization")
        .first()
    )
    if customer is not None and customer.merged_into is not None:
        return customer.merged_into
    return customer


def customer_summaries(*, organization: Organization) -> QuerySet:
    """The organization's customers as rows of SUMMARY_FIELDS: what a list of them shows."""
    return customers_of(organization).values(*SUMMARY_FIELDS)


def extended_field_definitions(
    *, organization: Organization, scope: str = ExtendedFieldScope.CUSTOMER
) -> dict[str, ExtendedFieldDefinition]:
    """The definitions an organization may use, by name; its own win over global ones."""
    definitions = ExtendedFieldDefinition.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True), scope=scope
    )
    by_name: dict[str, ExtendedFieldDefinition] = {}
    for definition in definitions:
        if definition.organization_id is not None or definition.name not in by_name:
            by_name[definition.name] = definition
    return by_name


SEARCH_TERMS = 5
PHONE_LIKE = re.compile(r"^[+(]?\d[\d().-]*$")


def customer_search(
    queryset: QuerySet[Customer], *, organization: Organization | None, text: str
) -> QuerySet[Customer]:
    """Customers matching every word of `text` in their name, email, phone, an identifier value
    or a card code (in `organization`; None, for superusers: in every organization).

    The longest word (likely the rarest) finds the candidates: a UNION of three lookups that
    trigram indexes serve on PostgreSQL (on the very expressions used here), so a rare fragment is
    found without scanning the table. The other words only filter those candidates.

    On PostgreSQL the customers are then read as `id = ANY(ARRAY(candidates))`, not
    `id IN (candidates)`: the candidates are found first, once, and their rows read by primary
    key. With `IN`, the planner chooses a join from its estimate of the candidates, and from a
    few thousand of them (a common fragment) hashes them against a scan of every customer: at
    1,000,000 customers, 390 ms where reading 11,000 candidates by key took 65 ms, and twice on
    an admin page (its count and its rows; bench/admin_bench.py).
    """
    terms = sorted(text.split()[:SEARCH_TERMS], key=len, reverse=True)
    if not terms:
        return queryset
    driving, *others = terms
    tenant = {} if organization is None else {"organization": organization}
    candidates = (
        Customer.objects.filter(_own_fields_match(driving), **tenant)
        .values("pk")
        .union(
            Identifier.objects.filter(value__icontains=driving, **tenant)
            .order_by()
            .values("customer_id"),
            CustomerCard.objects.filter(code__contains=driving.upper(), **tenant)
            .order_by()
            .values("customer_id"),
        )
    )
    if connection.vendor == "postgresql":
        from django.contrib.postgres.expressions import ArraySubquery
        from django.db.models import BooleanField, F, Func

        queryset = queryset.filter(
            Func(
                F("pk"),
                ArraySubquery(candidates),
                arg_joiner=" = ANY(",
                template="%(expressions)s)",
                output_field=BooleanField(),
            )
        )
    else:
        queryset = queryset.filter(pk__in=candidates)
    for term in others:
        queryset = queryset.filter(
            _own_fields_match(term)
            | Exists(Identifier.objects.filter(customer=OuterRef("pk"), value__icontains=term))
            | Exists(
                CustomerCard.objects.filter(customer=OuterRef("pk"), code__contains=term.upper())
            )
        )
    return queryset


def _own_fields_match(term: str) -> Q:
    match = Q(first_name__icontains=term) | Q(last_name__icontains=term)
    match |= Q(email__icontains=term)
    if PHONE_LIKE.match(term):
        match |= Q(phone__contains=re.sub(r"\D", "", term))
    return match


# --- the customer document ---------------------------------------------------------------------
#
# Everything a single customer view shows, built by the database as one JSON document in one
# prepared query: on every detail request, planning and compiling seven ORM queries cost ten
# times what running this one does. Written once in PostgreSQL's dialect; SQLite's JSON functions
# take the same arguments under other names, and need json() to embed JSON held as text.

_DOCUMENT_SELECT = """
SELECT {obj}(
  'id', c.id, 'public_id', c.public_id, 'first_name', c.first_name, 'last_name', c.last_name,
  'email', c.email, 'email_verified', c.email_verified, 'phone', c.phone,
  'birthday', c.birthday, 'address_line1', c.address_line1, 'address_line2', c.address_line2,
  'city', c.city, 'state', c.state, 'postal_code', c.postal_code, 'country', c.country,
  'description', c.description, 'external_id', c.external_id, 'loyalty_type', c.loyalty_type,
  'status', c.status, 'status_label', sl.name, 'store', st.code,
  'referral_code', c.referral_code, 'referred_by', rb.public_id,
  'custom_fields', {json}(c.custom_fields), 'extended_fields', {json}(c.extended_fields),
  'created_at', c.created_at, 'updated_at', c.updated_at,
  'source_accounts', {json}((SELECT {agg}({obj}(
      'id', a.id, 'source', a.source, 'account_id', a.account_id, 'first_name', a.first_name,
      'last_name', a.last_name, 'custom_fields', {json}(a.custom_fields),
      'created_at', a.created_at))
    FROM customers_sourceaccount a WHERE a.customer_id = c.id)),
  'identifiers', {json}((SELECT {agg}({obj}(
      'id', i.id, 'source_account_id', i.source_account_id, 'source', i.source,
      'account_id', i.account_id, 'type', i.type, 'value', i.value, 'series_id', i.series_id,
      'status_label', i.status_label, 'extended_fields', {json}(i.extended_fields)))
    FROM customers_identifier i WHERE i.customer_id = c.id)),
  'channels', {json}((SELECT {agg}({obj}(
      'id', h.id, 'type', h.type, 'value', h.value, 'primary', h."primary",
      'verified', h.verified, 'subscribed', h.subscribed, 'residence', h.residence,
      'office', h.office, 'last_viewed_at', h.last_viewed_at))
    FROM customers_commchannel h WHERE h.customer_id = c.id)),
  'enrollments', {json}((SELECT {agg}({obj}(
      'id', e.id, 'program_id', e.program_id, 'program_name', p.name,
      'tier_number', t.number, 'tier_name', t.name, 'tier_expires_at', e.tier_expires_at,
      'points_balance', e.points_balance, 'points_earned', e.points_earned,
      'enrolled_at', e.enrolled_at))
    FROM loyalty_enrollment e JOIN loyalty_program p ON p.id = e.program_id
    LEFT JOIN loyalty_tier t ON t.id = e.tier_id WHERE e.customer_id = c.id)),
  'cards', {json}((SELECT {agg}({obj}(
      'id', k.id, 'code', k.code, 'link_token', k.link_token, 'stamp_card_id', k.stamp_card_id,
      'stamp_card_name', s.name, 'stamps', k.stamps, 'status', k.status,
      'created_at', k.created_at,
      'rewards', {json}((SELECT {agg}({obj}('id', r.id, 'name', r.name, 'stamp_cost', r.stamp_cost))
        FROM loyalty_reward r WHERE r.stamp_card_id = k.stamp_card_id AND r.active))))
    FROM loyalty_customercard k JOIN loyalty_stampcard s ON s.id = k.stamp_card_id
    WHERE k.customer_id = c.id))
)
FROM customers_customer c
LEFT JOIN customers_statuslabel sl ON sl.id = c.status_label_id
LEFT JOIN crm_store st ON st.id = c.registered_store_id
LEFT JOIN customers_customer rb ON rb.id = c.referred_by_id
"""
_DIALECTS = {
    "postgresql": {"obj": "json_build_object", "agg": "json_agg", "json": ""},
    "sqlite": {"obj": "json_object", "agg": "json_group_array", "json": "json"},
}
# A merged-away customer's id gives its survivor's document.
DOCUMENT_SQL = {
    vendor: _DOCUMENT_SELECT.format(**words)
    + "WHERE c.id = (SELECT COALESCE(t.merged_into_id, t.id) "
    "FROM customers_customer t WHERE t.organization_id = %s AND t.public_id = %s)"
    for vendor, words in _DIALECTS.items()
}
# The next documents of many customers, in id order after the last one read.
DOCUMENTS_SQL = {
    vendor: _DOCUMENT_SELECT.format(**words).replace("SELECT ", "SELECT c.id, ", 1)
    + "WHERE c.organization_id = %s AND c.id > %s AND c.merged_into_id IS NULL {filter} "
    "ORDER BY c.id LIMIT %s"
    for vendor, words in _DIALECTS.items()
}
_DATETIMES = {"created_at", "updated_at", "last_viewed_at", "tier_expires_at", "enrolled_at"}
_BOOLEANS = {"email_verified", "primary", "verified", "subscribed", "residence", "office"}


def _typed(row: dict) -> dict:
    for key in _DATETIMES & row.keys():
        row[key] = as_datetime(row[key])
    for key in _BOOLEANS & row.keys():
        row[key] = bool(row[key])
    return row


def customer_document(*, organization: Organization, public_id: str) -> dict | None:
    """The customer with its source accounts and identifiers, channels, enrolments and cards.

    Lists come sorted; cards are CardViews. None when the organization has no such customer.
    """
    with prepared_cursor() as cursor:
        cursor.execute(DOCUMENT_SQL[connection.vendor], [organization.pk, public_id])
        row = cursor.fetchone()
    return None if row is None else _document(row[0])


def customer_documents(
    *, organization: Organization, customers: QuerySet | None = None, chunk: int = 1000
) -> Iterator[dict]:
    """The documents of the organization's customers (or of those of `customers`), in id order,
    as customer_document makes them: one query for each `chunk` of them, and flat memory."""
    where, params = "", []
    if customers is not None:
        sql, params = customers.values("pk").query.sql_with_params()
        where = f"AND c.id IN ({sql})"
    query = DOCUMENTS_SQL[connection.vendor].replace("{filter}", where)

    def chunks() -> Iterator[list]:
        last = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(query, [organization.pk, last, *params, chunk])
                rows = cursor.fetchall()
            yield rows
            if len(rows) < chunk:
                return
            last = rows[-1][0]

    for rows in read_ahead(chunks()):
        for _, raw in rows:
            yield _document(raw)


def _document(raw: str | dict) -> dict:
    document = _typed(json.loads(raw) if isinstance(raw, str) else raw)
    document["birthday"] = as_date(document["birthday"])
    children = {
        name: [_typed(item) for item in document[name] or []]
        for name in ("source_accounts", "identifiers", "channels", "enrollments", "cards")
    }
    identifiers = sorted(children["identifiers"], key=lambda i: (i["type"], i["id"]))
    for account in children["source_accounts"]:
        account["identifiers"] = [i for i in identifiers if i["source_account_id"] == account["id"]]
    document["source_accounts"] = sorted(
        children["source_accounts"], key=lambda a: (a["created_at"], a["id"])
    )
    document["channels"] = sorted(
        children["channels"], key=lambda c: (c["type"], not c["primary"], c["id"])
    )
    document["enrollments"] = sorted(children["enrollments"], key=lambda e: e["id"])
    document["cards"] = [
        CardView(
            code=card["code"],
            link_token=card["link_token"],
            stamp_card_id=card["stamp_card_id"],
            stamp_card_name=card["stamp_card_name"],
            stamps=card["stamps"],
            status=card["status"],
            created_at=card["created_at"],
            active_rewards=[
                RewardView(r["id"], r["name"], r["stamp_cost"]) for r in card["rewards"] or []
            ],
        )
        for card in sorted(children["cards"], key=lambda c: (c["created_at"], c["id"]))
    ]
    return document


def field_keys(
    *, organization: Organization, column: str, customers: QuerySet | None = None
) -> list[str]:
    """The keys the customers' custom_fields or extended_fields hold, sorted."""
    if column not in ("custom_fields", "extended_fields"):
        raise ValueError(column)
    where, params = "", []
    if customers is not None:
        sql, params = customers.values("pk").query.sql_with_params()
        where = f"AND c.id IN ({sql})"
    if connection.vendor == "postgresql":
        query = (
            f"SELECT DISTINCT jsonb_object_keys(c.{column}) FROM customers_customer c "  # noqa: S608
            f"WHERE c.organization_id = %s {where}"
        )
    else:
        query = (
            f"SELECT DISTINCT j.key FROM customers_customer c, json_each(c.{column}) j "  # noqa: S608
            f"WHERE c.organization_id = %s {where}"
        )
    with connection.cursor() as cursor:
        cursor.execute(query, [organization.pk, *params])
        return sorted(key for (key,) in cursor.fetchall())


# --- exports -----------------------------------------------------------------------------------
#
# What an export's CSV shows of each customer, built by the database as a lean JSON document
# with its lists in order: an export of a million customers decodes nothing it does not write.

_EXPORT_SELECT = """
SELECT c.id, CAST({obj}(
  'first_name', c.first_name, 'last_name', c.last_name, 'email', c.email,
  'email_verified', c.email_verified, 'phone', c.phone, 'birthday', c.birthday,
  'address_line1', c.address_line1, 'address_line2', c.address_line2, 'city', c.city,
  'state', c.state, 'postal_code', c.postal_code, 'country', c.country,
  'description', c.description, 'external_id', c.external_id, 'loyalty_type', c.loyalty_type,
  'status', c.status, 'status_label', sl.name, 'store', st.code,
  'custom_fields', {json}(c.custom_fields), 'extended_fields', {json}(c.extended_fields),
  'source_accounts', {json}((SELECT {agg}({obj}(
      'source', a.source, 'account_id', a.account_id,
      'identifiers', {json}((SELECT {agg}({obj}('type', i.type, 'value', i.value){by_type})
        FROM customers_identifier i WHERE i.source_account_id = a.id))){by_created})
    FROM customers_sourceaccount a WHERE a.customer_id = c.id)),
  'channels', {json}((SELECT {agg}({obj}(
      'type', h.type, 'value', h.value, 'primary', h."primary", 'verified', h.verified,
      'subscribed', h.subscribed, 'residence', h.residence, 'office', h.office){by_channel})
    FROM customers_commchannel h WHERE h.customer_id = c.id)),
  'enrollments', {json}((SELECT {agg}({obj}(
      'program_name', p.name, 'tier_number', t.number, 'points_balance', e.points_balance){by_id})
    FROM loyalty_enrollment e JOIN loyalty_program p ON p.id = e.program_id
    LEFT JOIN loyalty_tier t ON t.id = e.tier_id WHERE e.customer_id = c.id)),
  'cards', {json}((SELECT {agg}({obj}('stamp_card_name', s.name, 'stamps', k.stamps){by_created_k})
    FROM loyalty_customercard k JOIN loyalty_stampcard s ON s.id = k.stamp_card_id
    WHERE k.customer_id = c.id))
) AS text)
FROM customers_customer c
LEFT JOIN customers_statuslabel sl ON sl.id = c.status_label_id
LEFT JOIN crm_store st ON st.id = c.registered_store_id
WHERE c.organization_id = %s AND c.id > %s AND c.merged_into_id IS NULL {{filter}}
ORDER BY c.id LIMIT %s
"""
# PostgreSQL orders inside the aggregates; SQLite aggregates rows as they come, and the lists
# are put in order in Python (export_documents).
_ORDERS = {
    "by_type": " ORDER BY i.type, i.id",
    "by_created": " ORDER BY a.created_at, a.id",
    "by_channel": ' ORDER BY h.type, h."primary" DESC, h.id',
    "by_id": " ORDER BY e.id",
    "by_created_k": " ORDER BY k.created_at, k.id",
}
EXPORT_SQL = {
    "postgresql": _EXPORT_SELECT.format(**_DIALECTS["postgresql"], **_ORDERS),
    "sqlite": _EXPORT_SELECT.format(**_DIALECTS["sqlite"], **dict.fromkeys(_ORDERS, "")),
}


def export_documents(
    *, organization: Organization, customers: QuerySet | None = None, chunk: int = 2000
) -> Iterator[dict]:
    """What an export shows of the organization's customers (or of those of `customers`), in
    id order: one query for each `chunk` of them, and flat memory. Lists come in the order the
    customer document has them."""
    where, params = "", []
    if customers is not None:
        sql, params = customers.values("pk").query.sql_with_params()
        where = f"AND c.id IN ({sql})"
    query = EXPORT_SQL[connection.vendor].replace("{filter}", where)
    sqlite = connection.vendor == "sqlite"

    def chunks() -> Iterator[list]:
        last = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(query, [organization.pk, last, *params, chunk])
                rows = cursor.fetchall()
            yield rows
            if len(rows) < chunk:
                return
            last = rows[-1][0]

    # The database builds the next chunk while this thread decodes and writes the current one.
    for rows in read_ahead(chunks()):
        for _, raw in rows:
            document = json.loads(raw) if isinstance(raw, str) else raw
            if sqlite:
                _sqlite_export(document)
            yield document


def _sqlite_export(document: dict) -> None:
    """SQLite's documents in the shape PostgreSQL gives them: booleans, and lists in order."""
    document["email_verified"] = bool(document["email_verified"])
    for account in document["source_accounts"] or []:
        account["identifiers"] = sorted(account["identifiers"] or [], key=lambda i: i["type"])
    for channel in document["channels"] or []:
        for flag in ("primary", "verified", "subscribed", "residence", "office"):
            channel[flag] = bool(channel[flag])
    document["channels"] = sorted(
        document["channels"] or [], key=lambda h: (h["type"], not h["primary"])
    )


# --- the member-care overview ------------------------------------------------------------------

LEDGER_ROWS_SHOWN = 5
HISTORY_SHOWN = 50
REFERRALS_SHOWN = 10


@dataclass
class Overview:
    """Everything the customer 360 page shows, read in a fixed number of queries."""

    customer: Customer
    source_accounts: list
    channels: list
    definitions: dict[str, ExtendedFieldDefinition]
    enrollments: list  # each with .latest_rows, its newest ledger rows
    cards: list  # each with .view, a CardView
    coupons: list
    referrals: list
    referral_count: int
    merged_away: list
    history: list


def customer_overview(customer: Customer) -> Overview:
    """The customer's profile, accounts and identifiers, channels, loyalty and history."""
    newest_first = [F("created_at").desc(), F("pk").desc()]
    latest_rows = PointsTransaction.objects.annotate(
        rank=Window(RowNumber(), partition_by=F("enrollment_id"), order_by=newest_first)
    ).filter(rank__lte=LEDGER_ROWS_SHOWN)
    enrollments = list(
        Enrollment.objects.filter(customer=customer)
        .select_related("program", "tier")
        .prefetch_related(Prefetch("points_transactions", latest_rows, to_attr="latest_rows"))
        .order_by("program__name", "pk")
    )
    for enrollment in enrollments:
        enrollment.latest_rows.sort(key=lambda row: (row.created_at, row.pk), reverse=True)
    cards = list(cards_with_rewards().filter(customer=customer).order_by("created_at", "pk"))
    for card in cards:
        card.view = card_view(card)
    referrals = customer.referrals.order_by("-created_at", "-pk")
    return Overview(
        customer=customer,
        source_accounts=list(
            customer.source_accounts.prefetch_related(
                Prefetch("identifiers", Identifier.objects.order_by("type", "pk"))
            )
        ),
        channels=list(customer.channels.order_by("type", "-primary", "pk")),
        definitions=extended_field_definitions(organization=customer.organization),
        enrollments=enrollments,
        cards=cards,
        coupons=list(
            Coupon.objects.filter(customer=customer)
            .select_related("series")
            .order_by("-issued_at", "-pk")
        ),
        referrals=list(referrals[:REFERRALS_SHOWN]),
        referral_count=referrals.count(),
        merged_away=list(customer.merged_away.order_by("pk").values_list("public_id", flat=True)),
        history=_history(customer),
    )


# An import batch records one event listing the customers it registered, just after writing
# them: it is found within this time of the customer's registration.
IMPORT_EVENT_WITHIN = dt.timedelta(minutes=10)


def customer_events(customer: Customer) -> QuerySet[AuditEvent]:
    """The customer's change history, newest first."""
    return AuditEvent.objects.filter(customer=customer).order_by("-created_at", "-pk")


def import_event(customer: Customer) -> AuditEvent | None:
    """The event of the import batch that registered the customer, if one did, told as theirs
    (a batch's event lists every customer it registered)."""
    if customer.imported_at is None:
        return None
    batches = AuditEvent.objects.filter(
        organization_id=customer.organization_id,
        customer__isnull=True,
        subject="import",
        created_at__gte=customer.created_at,
        created_at__lte=customer.created_at + IMPORT_EVENT_WITHIN,
    )
    for batch in batches:
        if customer.public_id in (batch.changes.get("customers") or [None, []])[1]:
            batch.changes = {"customer": [None, customer.public_id], "run": batch.changes["run"]}
            return batch
    return None


def by_newest(events: list[AuditEvent]) -> list[AuditEvent]:
    return sorted(events, key=lambda e: (e.created_at, e.pk), reverse=True)


def _history(customer: Customer) -> list[AuditEvent]:
    """The customer's newest events, with the import batch's that registered them, if any."""
    events = list(customer_events(customer)[:HISTORY_SHOWN])
    if batch := import_event(customer):
        events.append(batch)
    return by_newest(events)[:HISTORY_SHOWN]
