"""Reads of customers with their loyalty: the customer documents, what exports show of them, and
the member-care overview."""

import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, OuterRef, Prefetch, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from crm.db import as_date, as_datetime, prepared_cursor, read_ahead
from crm.models import Organization
from customers.fields import CUSTOMER_FIELDS, EXPORTED_FIELDS, CustomerField, Kind
from customers.models import AuditEvent, Customer, ExtendedFieldDefinition, Identifier
from customers.selectors import (
    by_newest,
    customer_events,
    extended_field_definitions,
    import_event,
)
from loyalty.choices import TierWindow
from loyalty.models import Coupon, Enrollment, PointsTransaction
from loyalty.selectors import (
    CardView,
    RewardView,
    card_view,
    cards_with_rewards,
    customer_purchases,
)
from loyalty.services.purchase_input import in_minor_units
from loyalty.services.tier_changes import tier_floor_at
from loyalty.tiers import Tier, TierChange

# --- the customer document ---------------------------------------------------------------------
#
# Everything a single customer view shows, built by the database as one JSON document in one
# prepared query: on every detail request, planning and compiling seven ORM queries cost ten
# times what running this one does. Written once in PostgreSQL's dialect; SQLite's JSON functions
# take the same arguments under other names, and need json() to embed JSON held as text.

DOCUMENT_SELECT = """
SELECT {obj}(
  'id', c.id, 'public_id', c.public_id, {profile},
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
      'points_balance', e.points_balance, 'points_pending', e.points_pending,
      'points_earned', e.points_earned, 'enrolled_at', e.enrolled_at))
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
DIALECTS = {
    "postgresql": {"obj": "json_build_object", "agg": "json_agg", "json": ""},
    "sqlite": {"obj": "json_object", "agg": "json_group_array", "json": "json"},
}


def profile_pairs(fields: tuple[CustomerField, ...], json: str) -> str:
    """The key and value arguments of a JSON object of the customer's `fields`, in a dialect
    whose JSON held as text is embedded with `json`."""
    return ", ".join(
        f"'{field.name}', {json}({field.column})"
        if field.kind is Kind.JSON
        else f"'{field.name}', {field.column}"
        for field in fields
    )


def document_select(vendor: str) -> str:
    words = DIALECTS[vendor]
    return DOCUMENT_SELECT.format(profile=profile_pairs(CUSTOMER_FIELDS, words["json"]), **words)


# A merged-away customer's id gives its survivor's document.
DOCUMENT_SQL = {
    vendor: document_select(vendor) + "WHERE c.id = (SELECT COALESCE(t.merged_into_id, t.id) "
    "FROM customers_customer t WHERE t.organization_id = %s AND t.public_id = %s)"
    for vendor in DIALECTS
}
# The next documents of many customers, in id order after the last one read.
DOCUMENTS_SQL = {
    vendor: document_select(vendor).replace("SELECT ", "SELECT c.id, ", 1)
    + "WHERE c.organization_id = %s AND c.id > %s AND c.merged_into_id IS NULL {filter} "
    "ORDER BY c.id LIMIT %s"
    for vendor in DIALECTS
}
_DATETIMES = {"created_at", "updated_at", "last_viewed_at", "tier_expires_at", "enrolled_at"}
PROFILE_FLAGS = {field.name for field in CUSTOMER_FIELDS if field.kind is Kind.FLAG}
PROFILE_DATES = [field.name for field in CUSTOMER_FIELDS if field.kind is Kind.DATE]
_BOOLEANS = {*PROFILE_FLAGS, "primary", "verified", "subscribed", "residence", "office"}


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
    for raw in _chunked(DOCUMENTS_SQL, organization, customers, chunk):
        yield _document(raw)


def _chunked(
    queries: dict[str, str], organization: Organization, customers: QuerySet | None, chunk: int
) -> Iterator[str | dict]:
    """The raw documents of one of `queries` (by database vendor), `chunk` rows a query, after
    the last id read. The database builds the next chunk while the caller decodes this one."""
    where, params = "", []
    if customers is not None:
        sql, params = customers.values("pk").query.sql_with_params()
        where = f"AND c.id IN ({sql})"
    query = queries[connection.vendor].replace("{filter}", where)

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
            yield raw


def _document(raw: str | dict) -> dict:
    document = _typed(json.loads(raw) if isinstance(raw, str) else raw)
    for name in PROFILE_DATES:
        document[name] = as_date(document[name])
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


# --- exports -----------------------------------------------------------------------------------
#
# What an export's CSV shows of each customer, built by the database as a lean JSON document
# with its lists in order: an export of a million customers decodes nothing it does not write.

_EXPORT_SELECT = """
SELECT c.id, CAST({obj}(
  {profile},
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
    vendor: _EXPORT_SELECT.format(
        profile=profile_pairs(EXPORTED_FIELDS, words["json"]),
        **words,
        **(_ORDERS if vendor == "postgresql" else dict.fromkeys(_ORDERS, "")),
    )
    for vendor, words in DIALECTS.items()
}


def export_documents(
    *, organization: Organization, customers: QuerySet | None = None, chunk: int = 2000
) -> Iterator[dict]:
    """What an export shows of the organization's customers (or of those of `customers`), in
    id order: one query for each `chunk` of them, and flat memory. Lists come in the order the
    customer document has them."""
    sqlite = connection.vendor == "sqlite"
    for raw in _chunked(EXPORT_SQL, organization, customers, chunk):
        document = json.loads(raw) if isinstance(raw, str) else raw
        if sqlite:
            _sqlite_export(document)
        yield document


def _sqlite_export(document: dict) -> None:
    """SQLite's documents in the shape PostgreSQL gives them: booleans, and lists in order."""
    for name in PROFILE_FLAGS:
        document[name] = bool(document[name])
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
PURCHASES_SHOWN = 10
TIER_CHANGES_SHOWN = 5
HISTORY_SHOWN = 50
REFERRALS_SHOWN = 10


@dataclass
class Overview:
    """Everything the customer 360 page shows, read in a fixed number of queries."""

    customer: Customer
    source_accounts: list
    channels: list
    definitions: dict[str, ExtendedFieldDefinition]
    # Each with .latest_rows and .latest_tier_changes, the newest of each, and .floor_now, the
    # tier set by staff that renewals may not go below now, if any.
    enrollments: list
    purchases: list  # the newest, each with .points, what it earned, and .total, its amount
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
    latest_tier_changes = (
        TierChange.objects.annotate(
            rank=Window(RowNumber(), partition_by=F("enrollment_id"), order_by=newest_first)
        )
        .filter(rank__lte=TIER_CHANGES_SHOWN)
        .select_related("from_tier", "to_tier")
    )
    lowest = Tier.objects.filter(program=OuterRef("program")).order_by("number")
    enrollments = list(
        Enrollment.objects.filter(customer=customer)
        .annotate(lowest_tier_number=Subquery(lowest.values("number")[:1]))
        .select_related("program", "tier", "tier_floor")
        .prefetch_related(
            Prefetch("points_transactions", latest_rows, to_attr="latest_rows"),
            Prefetch("tier_changes", latest_tier_changes, to_attr="latest_tier_changes"),
        )
        .order_by("program__name", "pk")
    )
    now = timezone.now()
    for enrollment in enrollments:
        enrollment.latest_rows.sort(key=lambda row: (row.created_at, row.pk), reverse=True)
        enrollment.latest_tier_changes.sort(
            key=lambda change: (change.created_at, change.pk), reverse=True
        )
        floor = tier_floor_at(enrollment, now)
        if enrollment.program.tier_window == TierWindow.LIFETIME or (
            floor is not None and floor.number <= enrollment.lowest_tier_number
        ):
            floor = None  # no renewals, or nothing below the floor anyway
        enrollment.floor_now = floor
    purchases = list(customer_purchases(customer)[:PURCHASES_SHOWN])
    for purchase in purchases:
        purchase.total = in_minor_units(purchase.total_amount, purchase.currency)
        for purchase_return in purchase.returns.all():
            purchase_return.total = in_minor_units(purchase_return.amount, purchase.currency)
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
        purchases=purchases,
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


def _history(customer: Customer) -> list[AuditEvent]:
    """The customer's newest events, with the import batch's that registered them, if any."""
    events = list(customer_events(customer)[:HISTORY_SHOWN])
    if batch := import_event(customer):
        events.append(batch)
    return by_newest(events)[:HISTORY_SHOWN]
