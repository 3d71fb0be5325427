"""A large, realistic organization for benchmarks, loaded straight into PostgreSQL with COPY.

Each customer has an INSTORE source account with an email and a mobile identifier, a primary
email channel, an enrolment with points and a stamp card: the shape the API and the admin serve.
Rows satisfy every constraint of the schema (normalised email and phone, unique codes), so the
product treats them exactly like rows its services wrote.
"""

import datetime as dt
import json
import random
import secrets
import sys
import time

import django
from django.db import connection

SYLLABLES = [
    "ka",
    "ri",
    "mo",
    "na",
    "shi",
    "to",
    "le",
    "an",
    "el",
    "ja",
    "vi",
    "ro",
    "su",
    "mi",
    "da",
    "yu",
    "ne",
    "ha",
    "li",
    "or",
    "be",
    "ta",
    "ki",
    "sa",
    "po",
]
# 25^2 first names and 25^3 last names: a realistic spread, so a name search finds a handful.
FIRST_NAMES = [(a + b).capitalize() for a in SYLLABLES for b in SYLLABLES]
LAST_NAMES = [(a + b + c).capitalize() for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
DOMAINS = ["example.com", "mail.example", "inbox.example", "post.example", "web.example"]
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def organization_for_bench(slug: str):
    """The benchmark organization with a programme, tiers, a stamp card, and an API key."""
    from crm.models import ApiKey, Organization
    from crm.services import KEY_PREFIX, api_key_create, api_key_digest
    from loyalty.models import Program, Reward, StampCard
    from loyalty.tiers import Tier

    organization, _ = Organization.objects.get_or_create(
        slug=slug,
        defaults={"name": "Bench Retail", "default_region": "IN", "api_requests_per_minute": 10**9},
    )
    program, _ = Program.objects.get_or_create(organization=organization, name="Bench Rewards")
    for number, name in enumerate(["Silver", "Gold", "Platinum"], start=1):
        Tier.objects.get_or_create(program=program, number=number, defaults={"name": name})
    stamp_card, created = StampCard.objects.get_or_create(
        organization=organization, name="Bench coffee card"
    )
    if created:
        Reward.objects.create(stamp_card=stamp_card, name="Coffee", stamp_cost=5)
        Reward.objects.create(stamp_card=stamp_card, name="Lunch", stamp_cost=10)
    raw_key = KEY_PREFIX + "bench-" + slug
    if not ApiKey.objects.filter(key_hash=api_key_digest(raw_key)).exists():
        api_key_create(organization=organization, name="bench", raw_key=raw_key)
    return organization, program, stamp_card, raw_key


def _referral_code(n: int) -> str:
    digits = []
    for _ in range(8):
        n, rest = divmod(n, len(CODE_ALPHABET))
        digits.append(CODE_ALPHABET[rest])
    return "".join(reversed(digits))


def _card_code(n: int, rng: random.Random) -> str:
    # Unique by construction (the number in base 31), unguessable by the random tail.
    return _referral_code(n)[2:] + "".join(rng.choice(CODE_ALPHABET) for _ in range(8))


def _next_ids(table: str, count: int) -> int:
    """Reserve `count` ids of `table`'s sequence; the first one."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
        first = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [first + count]
        )
    return first


def organization_with_customers(customers: int, *, slug: str = "bench"):
    """The benchmark organization in a migrated database, loaded up to `customers` (one already
    loaded is reused), and how many customers it has."""
    from django.core.management import call_command

    from customers.models import Customer

    call_command("migrate", verbosity=0)
    organization, *_ = organization_for_bench(slug)
    have = Customer.objects.filter(organization=organization).count()
    if have < customers:
        print(f"loading {customers - have:,} customers…", file=sys.stderr)
        result = load_customers(customers - have, slug=slug)
        print(f"loaded in {result['seconds']:.0f}s", file=sys.stderr)
    return organization, max(have, customers)


def load_customers(count: int, *, slug: str = "bench", seed: int = 7, batch: int = 50_000) -> dict:
    """Add `count` customers to the benchmark organization; what a benchmark needs to call it."""
    organization, program, stamp_card, raw_key = organization_for_bench(slug)
    tiers = list(program.tiers.order_by("number").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM customers_customer WHERE organization_id = %s", [organization.pk]
        )
        existing = cursor.fetchone()[0]
    rng = random.Random(seed + existing)
    now = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    for offset in range(0, count, batch):
        size = min(batch, count - offset)
        _load_batch(organization, program, stamp_card, tiers, existing + offset, size, rng, now)
        print(f"  {offset + size:,} customers loaded", file=sys.stderr)
    elapsed = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "organization": organization,
        "api_key": raw_key,
        "loaded": count,
        "seconds": elapsed,
    }


def _copy(table: str, columns, rows) -> None:
    quoted = ", ".join(f'"{column}"' for column in columns)
    copy_sql = f"COPY {table} ({quoted}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(row)


def _load_batch(organization, program, stamp_card, tiers, start, size, rng, now):
    # The product's own column lists: the rows below are built in their order.
    from customers.services.writer import ACCOUNT_COLUMNS, CHANNEL_COLUMNS, IDENTIFIER_COLUMNS

    org_id = organization.pk
    customer_id = _next_ids("customers_customer", size)
    account_id = _next_ids("customers_sourceaccount", size)
    identifier_id = _next_ids("customers_identifier", 2 * size)
    channel_id = _next_ids("customers_commchannel", size)
    enrollment_id = _next_ids("loyalty_enrollment", size)
    card_id = _next_ids("loyalty_customercard", size)
    customers, accounts, identifiers, channels, enrollments, cards = [], [], [], [], [], []
    empty = json.dumps({})
    for i in range(size):
        n = start + i
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{n}@{rng.choice(DOMAINS)}".lower()
        phone = f"+91{9_000_000_000 + n}"
        created = now - dt.timedelta(seconds=rng.randrange(3 * 365 * 86400))
        cid = customer_id + i
        customers.append(
            (
                cid,
                org_id,
                "cust_" + secrets.token_hex(12),
                first,
                last,
                email,
                rng.random() < 0.7,
                phone,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                None,
                "loyalty",
                "active",
                empty,
                empty,
                _referral_code(n),
                created,
                created,
            )
        )
        accounts.append((account_id + i, cid, "INSTORE", "", first, last, empty, created))
        identifiers.append(
            (
                identifier_id + 2 * i,
                org_id,
                cid,
                account_id + i,
                "INSTORE",
                "",
                "email",
                email,
                None,
                "",
                empty,
                created,
            )
        )
        identifiers.append(
            (
                identifier_id + 2 * i + 1,
                org_id,
                cid,
                account_id + i,
                "INSTORE",
                "",
                "mobile",
                phone,
                None,
                "",
                empty,
                created,
            )
        )
        channels.append(
            (
                channel_id + i,
                cid,
                "email",
                email,
                True,
                True,
                True,
                False,
                False,
                None,
                created,
                created,
            )
        )
        points = rng.randrange(0, 5000)
        enrollments.append(
            (
                enrollment_id + i,
                cid,
                program.pk,
                rng.choice(tiers),
                None,
                points,
                0,
                points,
                created,
                created,
            )
        )
        cards.append(
            (
                card_id + i,
                org_id,
                cid,
                stamp_card.pk,
                _card_code(n, rng),
                secrets.token_urlsafe(24),
                rng.randrange(0, 12),
                "active",
                created,
                created,
            )
        )
    _copy(
        "customers_customer",
        [
            "id",
            "organization_id",
            "public_id",
            "first_name",
            "last_name",
            "email",
            "email_verified",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "country",
            "description",
            "external_id",
            "loyalty_type",
            "status",
            "custom_fields",
            "extended_fields",
            "referral_code",
            "created_at",
            "updated_at",
        ],
        customers,
    )
    _copy("customers_sourceaccount", ACCOUNT_COLUMNS, accounts)
    _copy("customers_identifier", IDENTIFIER_COLUMNS, identifiers)
    _copy("customers_commchannel", CHANNEL_COLUMNS, channels)
    _copy(
        "loyalty_enrollment",
        [
            "id",
            "customer_id",
            "program_id",
            "tier_id",
            "tier_expires_at",
            "points_balance",
            "points_pending",
            "points_earned",
            "enrolled_at",
            "updated_at",
        ],
        enrollments,
    )
    _copy(
        "loyalty_customercard",
        [
            "id",
            "organization_id",
            "customer_id",
            "stamp_card_id",
            "code",
            "link_token",
            "stamps",
            "status",
            "created_at",
            "updated_at",
        ],
        cards,
    )


if __name__ == "__main__":
    django.setup()
    result = load_customers(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    print(f"loaded {result['loaded']:,} customers in {result['seconds']:.1f}s")
