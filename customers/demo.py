"""Demo data for a first look at the product: one organization with everything in use.

Loading it again changes nothing. The admin password and the API key are derived from SECRET_KEY,
so they can be printed on every run without being stored anywhere but as hashes.
"""

import base64
import datetime as dt
import hashlib
import hmac
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from crm.actors import Actor
from crm.models import ApiKey, Organization, Store, User
from crm.services import KEY_PREFIX, api_key_create, api_key_digest
from customers.choices import CustomerStatus, Source
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from customers.membership.registration import customer_register
from customers.models import Customer, StatusLabel
from loyalty.choices import TierWindow
from loyalty.models import CouponSeries, Program, Reward, StampCard
from loyalty.points_rewards import PointsReward
from loyalty.services.earning_rules import earning_rule_create
from loyalty.services.enrolments import tier_set
from loyalty.services.purchases import transaction_record
from loyalty.services.returns import return_record
from loyalty.services.rewards_catalogue import points_reward_create
from loyalty.tiers import Tier
from loyalty.transactions import EarningRule

DEMO_SLUG = "demo"
ADMIN_USERNAME = "admin"
# Member-care staff of the demo organization, each in the group of the same name.
STAFF_ROLES = ("agent", "supervisor")
# The demo programme's earning rules: (name, kind, priority, parameters).
EARNING_RULES = [
    ("1 point per 10 spent", "base_rate", 100, {"points": 1, "per": "10", "rounding": "down"}),
    ("Beans earn double", "category_multiplier", 100, {"category": "beans", "multiplier": "2"}),
    ("Gold earns 1.5x", "tier_multiplier", 110, {"tier": 2, "multiplier": "1.5"}),
    ("First purchase bonus", "first_purchase_bonus", 100, {"points": 50}),
    ("At most 500 a purchase", "transaction_cap", 100, {"points": 500}),
]
# What the demo's customers buy: (sku, category, unit price in INR).
MENU = [
    ("LATTE", "coffee", "180.00"),
    ("ESPRESSO", "coffee", "120.00"),
    ("CROISSANT", "bakery", "150.00"),
    ("BEANS-250", "beans", "650.00"),
]
# Every DUE_EVERY-th member above the lowest tier has a tier that expires once the demo is loaded,
# for the daily renewal to renew or downgrade by what they earned; every other one of them earned
# BONUS_POINTS, enough for Gold. The other members' tiers expire in the months to come.
DUE_EVERY = 4
BONUS_POINTS = 1000
FIRST_NAMES = ["Asha", "Ravi", "Mei", "Kenji", "Sara", "Tom", "Lina", "Omar", "Priya", "Jun"]
LAST_NAMES = ["Rao", "Sharma", "Tanaka", "Lee", "Garcia", "Sawyer", "Chen", "Khan", "Iyer", "Park"]


# What the demo holds, singular and plural, in the order a report of what was added lists them.
DEMO_THINGS = {
    "organization": "organizations",
    "store": "stores",
    "status label": "status labels",
    "coupon series": "coupon series",
    "programme": "programmes",
    "tier": "tiers",
    "stamp card": "stamp cards",
    "reward": "rewards",
    "earning rule": "earning rules",
    "points reward": "points rewards",
    "customer": "customers",
    "purchase": "purchases",
    "return": "returns",
    "login": "logins",
    "API key": "API keys",
}


def added_summary(added: Counter[str]) -> str:
    """What one load of the demo added, as a sentence: nothing when it was all there before."""
    parts = [
        f"{added[thing]:,} {thing if added[thing] == 1 else plural}"
        for thing, plural in DEMO_THINGS.items()
        if added[thing]
    ]
    if not parts:
        return "nothing added, the demo data is already there"
    return "added " + ", ".join(parts)


@dataclass
class DemoAccess:
    admin_username: str
    admin_password: str | None  # None once someone has changed it
    api_key: str | None  # None once the demo key has been revoked
    added: Counter[str]  # what this load added, by DEMO_THINGS' singular names
    # The demo organization's member-care staff, by role: {username: password or None}.
    staff: dict[str, str | None]


def derived_secret(purpose: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), purpose.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@transaction.atomic
def seed_demo(*, customers: int) -> DemoAccess:
    added: Counter[str] = Counter()
    organization, created = Organization.objects.get_or_create(
        slug=DEMO_SLUG, defaults={"name": "Demo Coffee Co.", "default_region": "IN"}
    )
    added["organization"] += created
    flagship, created = Store.objects.get_or_create(
        organization=organization, code="bukl.till", defaults={"name": "Flagship"}
    )
    added["store"] += created
    _, created = Store.objects.get_or_create(
        organization=organization, code="mg-road.till", defaults={"name": "MG Road"}
    )
    added["store"] += created
    _, created = StatusLabel.objects.get_or_create(
        organization=organization,
        name="Active",
        defaults={"status": CustomerStatus.ACTIVE, "is_default": True},
    )
    added["status label"] += created
    welcome_offer, created = CouponSeries.objects.get_or_create(
        organization=organization,
        description="Welcome Offer - 10% flat discount",
        defaults={"valid_days": 30},
    )
    added["coupon series"] += created
    program, created = Program.objects.get_or_create(
        organization=organization,
        name="Demo Rewards",
        defaults={
            "welcome_points": 50,
            "welcome_coupon_series": welcome_offer,
            "referrer_points": 100,
            "referee_points": 50,
            "point_value": Decimal("0.25"),
            "point_value_currency": "INR",
            "tier_window": TierWindow.ROLLING_12_MONTHS,
            # Purchase points are spendable after a 14-day return window and valid a year; a
            # return after the window may take the balance below zero, repaid by later points.
            "pending_days": 14,
            "points_valid_days": 365,
            "clawback_policy": "allow_negative",
        },
    )
    added["programme"] += created
    tiers = [("Silver", None), ("Gold", 1000), ("Platinum", 5000)]
    for number, (name, threshold) in enumerate(tiers, start=1):
        _, created = Tier.objects.get_or_create(
            program=program, number=number, defaults={"name": name, "points_threshold": threshold}
        )
        added["tier"] += created
    stamp_card, created = StampCard.objects.get_or_create(
        organization=organization,
        name="Coffee card",
        defaults={"store": flagship, "initial_stamps": 1},
    )
    added["stamp card"] += created
    if created:
        Reward.objects.create(stamp_card=stamp_card, name="Free coffee", stamp_cost=5)
        Reward.objects.create(stamp_card=stamp_card, name="Free lunch", stamp_cost=10)
        added["reward"] += 2
    _demo_catalogue(organization, program, added)
    _demo_customers(organization, program, stamp_card, customers, added)
    admin_password = _demo_admin(added)
    staff = {role: _demo_staff(organization, role, added) for role in STAFF_ROLES}
    return DemoAccess(
        admin_username=ADMIN_USERNAME,
        admin_password=admin_password,
        api_key=_demo_api_key(organization, added),
        added=added,
        staff=staff,
    )


def _demo_customers(
    organization: Organization,
    program: Program,
    stamp_card: StampCard,
    count: int,
    added: Counter[str],
) -> None:
    emails = {f"member{i:05d}@demo.example" for i in range(count)}
    existing = set(
        Customer.objects.filter(organization=organization, email__in=emails).values_list(
            "email", flat=True
        )
    )
    actor = Actor("system", "seed_demo")
    for i in range(count):
        email = f"member{i:05d}@demo.example"
        if email in existing:
            continue
        rng = random.Random(i)  # noqa: S311 - demo data, reproducible by design
        mobile = demo_mobile(i)
        tier_number = 1 + i % 3
        points = rng.randrange(0, 500, 5) + (BONUS_POINTS if i % (2 * DUE_EVERY) == 0 else 0)
        due = tier_number > 1 and i % DUE_EVERY == 0
        tier_expires_at = None
        if tier_number > 1 and not due:
            tier_expires_at = timezone.now() + dt.timedelta(days=10 + i % 300)
        registered = customer_register(
            organization=organization,
            data=CustomerInput(
                first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                last_name=LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)],
                email_verified=i % 3 != 0,
                source_accounts=[
                    SourceAccountInput(
                        source=Source.INSTORE,
                        identifiers=[
                            IdentifierInput(type="email", value=email),
                            IdentifierInput(type="mobile", value=mobile),
                        ],
                    )
                ],
                channels=[
                    ChannelInput(type="email", value=email, primary=True, verified=True),
                    ChannelInput(type="mobile", value=mobile, primary=True, subscribed=i % 4 != 0),
                ],
                enrollments=[
                    EnrollmentInput(
                        program_id=program.pk,
                        tier_number=tier_number,
                        points=points,
                        tier_expires_at=tier_expires_at,
                    )
                ],
                stamp_card_ids=[stamp_card.pk],
                store_code="bukl.till",
            ),
            actor=actor,
        )
        _demo_purchases(organization, registered.customer, i, rng, actor, added)
        if due:  # after what they earned, so that it counts in the window ending now
            tier_set(
                organization=organization,
                enrollment=registered.customer.enrollments.get(program=program),
                tier_number=tier_number,
                tier_expires_at=timezone.now(),
                actor=actor,
            )
        added["customer"] += 1


def _demo_catalogue(organization: Organization, program: Program, added: Counter[str]) -> None:
    """The demo programme's earning rules and a reward bought with points, made once."""
    if not EarningRule.objects.filter(program=program).exists():
        for name, kind, priority, parameters in EARNING_RULES:
            earning_rule_create(
                program=program,
                name=name,
                kind=kind,
                parameters=parameters,
                priority=priority,
                active_from=None,
                active_until=None,
            )
            added["earning rule"] += 1
    if not PointsReward.objects.filter(program=program).exists():
        voucher, created = CouponSeries.objects.get_or_create(
            organization=organization,
            description="A free bag of beans",
            defaults={"valid_days": 60},
        )
        added["coupon series"] += created
        points_reward_create(
            program=program,
            name="Bag of beans",
            points_cost=300,
            coupon_series=voucher,
            stock=50,
            per_customer_limit=2,
        )
        added["points reward"] += 1


def _demo_purchases(
    organization: Organization,
    customer: Customer,
    index: int,
    rng: random.Random,
    actor: Actor,
    added: Counter[str],
) -> None:
    """Up to three past purchases of the demo customer, each earning by the programme's rules;
    every fifth customer brought the first item of their first purchase back the next day."""
    now = timezone.now()
    for number in range(rng.randrange(4)):
        items = rng.sample(MENU, rng.randrange(1, 3))
        purchase = transaction_record(
            organization=organization,
            customer=customer,
            store_code=rng.choice(["bukl.till", "mg-road.till"]),
            external_id=f"demo-{index:05d}-{number}",
            occurred_at=now - dt.timedelta(days=rng.randrange(1, 90), minutes=index),
            currency="INR",
            lines=[
                {"sku": sku, "category": category, "quantity": 1, "unit_price": price}
                for sku, category, price in items
            ],
            channel=Source.INSTORE,
            actor=actor,
        ).transaction
        added["purchase"] += 1
        if number == 0 and index % 5 == 0:
            return_record(
                organization=organization,
                purchase=purchase,
                external_id=f"demo-return-{index:05d}",
                occurred_at=purchase.occurred_at + dt.timedelta(days=1),
                lines=[{"sku": items[0][0], "quantity": 1}],
                actor=actor,
            )
            added["return"] += 1


# Multiplying by a number prime to 10**8 shuffles 0..10**8-1 onto itself: every index has its
# own number, scattered rather than in a row.
MOBILE_SHUFFLE = 48_271
MAX_DEMO_CUSTOMERS = 10**8


def demo_mobile(index: int) -> str:
    """The mobile number of the demo customer `index`: a different one for each index below
    MAX_DEMO_CUSTOMERS (numbers drawn at random met within 4,000 customers)."""
    return f"+9198{index * MOBILE_SHUFFLE % MAX_DEMO_CUSTOMERS:08d}"


def _demo_admin(added: Counter[str]) -> str | None:
    password = derived_secret("seed_demo admin password")[:16]
    user = User.objects.filter(username=ADMIN_USERNAME).first()
    if user is None:
        User.objects.create_superuser(username=ADMIN_USERNAME, email="", password=password)
        added["login"] += 1
        return password
    return password if user.check_password(password) else None


def _demo_staff(organization: Organization, role: str, added: Counter[str]) -> str | None:
    password = derived_secret(f"seed_demo {role} password")[:16]
    user = User.objects.filter(username=role).first()
    if user is None:
        user = User.objects.create_user(
            username=role, password=password, organization=organization, is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        added["login"] += 1
        return password
    return password if user.check_password(password) else None


def _demo_api_key(organization: Organization, added: Counter[str]) -> str | None:
    raw_key = KEY_PREFIX + derived_secret("seed_demo api key")
    api_key = ApiKey.objects.filter(key_hash=api_key_digest(raw_key)).first()
    if api_key is None:
        api_key_create(organization=organization, name="Demo key", raw_key=raw_key)
        added["API key"] += 1
        return raw_key
    return raw_key if api_key.is_active else None
