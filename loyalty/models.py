"""Programmes and enrolments with their points ledger; stamp cards with their stamp ledger;
coupons and the rewards bought with points; card link deliveries. Tiers, with the history of an
enrolment's tier, are in loyalty.tiers.

The ledgers (points, stamps, tier changes, points reward redemptions) are append-only: a database
trigger refuses updates. A balance or stamp count kept on the enrolment or card is a running total
of its ledger, changed only in the transaction that appends the ledger row, under a row lock.
"""

import secrets
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.db import choices_check
from crm.models import Organization, Store
from customers.models import Customer

# Django finds the models of tiers, of purchases and earning rules, of returns, of points
# rewards, and of the versions of programmes' rules, through these.
from . import points_rewards, returns, rules_versions, tiers, transactions  # noqa: F401
from .choices import (
    POINTS_IN,
    POINTS_OUT,
    CardStatus,
    ClawbackPolicy,
    DeliveryChannel,
    DeliveryStatus,
    PointsKind,
    StampKind,
    StripType,
    TierBasis,
    TierWindow,
)


class CouponSeries(models.Model):
    """A kind of coupon: what it gives (description, discount code) and how long it is valid."""

    TENANT_PATH = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="coupon_series"
    )
    description = models.CharField(max_length=255)
    discount_code = models.CharField(max_length=64, default="NO_VALUE")
    valid_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="A coupon is valid until the end of this many days after it is issued.",
    )
    valid_until = models.DateTimeField(
        null=True, blank=True, help_text="No coupon of the series is valid after this."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "description"]
        verbose_name_plural = "coupon series"

    def __str__(self) -> str:
        return self.description


class Program(models.Model):
    TENANT_PATH = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="programs"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    welcome_points = models.PositiveIntegerField(
        default=0, help_text="Points every new enrolment receives."
    )
    welcome_coupon_series = models.ForeignKey(
        CouponSeries,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Every new enrolment receives a coupon of this series.",
    )
    referrer_points = models.PositiveIntegerField(
        default=0,
        help_text="Points for a member whose referral code a new member registers with.",
    )
    referee_points = models.PositiveIntegerField(
        default=0, help_text="Points for a new member who registers with a referral code."
    )
    # What the points outstanding are worth (the programme's liability); 0: not configured.
    point_value = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(0))
    point_value_currency = models.CharField(max_length=3, blank=True, help_text="e.g. EUR.")
    # How members reach and keep tiers (loyalty.services.tier_changes, docs/loyalty.md).
    tier_basis = models.CharField(max_length=8, choices=TierBasis.choices, default="points")
    tier_window = models.CharField(max_length=20, choices=TierWindow.choices, default="lifetime")
    tier_period_months = models.PositiveSmallIntegerField(
        default=12, help_text="How long a tier reached or renewed lasts, with the rolling window."
    )
    pending_days = models.PositiveIntegerField(
        default=0, help_text="Purchase points are pending so many days (the return window)."
    )
    points_valid_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Purchase points expire so many days after they activate."
    )
    clawback_policy = models.CharField(
        max_length=16, choices=ClawbackPolicy.choices, default=ClawbackPolicy.WITHIN_BALANCE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="uniq_program_name"),
            models.CheckConstraint(
                condition=Q(point_value__gte=0)
                & (Q(point_value_currency="") | Q(point_value_currency__regex=r"^[A-Z]{3}$")),
                name="program_point_value_valid",
            ),
            choices_check("tier_basis", TierBasis, "program_tier_basis_valid"),
            choices_check("tier_window", TierWindow, "program_tier_window_valid"),
            models.CheckConstraint(
                condition=Q(tier_period_months__gte=1), name="program_tier_period_from_one"
            ),
            choices_check("clawback_policy", ClawbackPolicy, "program_clawback_policy_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    TENANT_PATH = "customer__organization"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="enrollments")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.PROTECT, null=True, blank=True, related_name="enrollments"
    )
    tier_expires_at = models.DateTimeField(null=True, blank=True)
    # A tier set by staff (or given at enrolment): renewals never go below it until it expires.
    tier_floor = models.ForeignKey(
        "loyalty.Tier", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tier_floor_until = models.DateTimeField(null=True, blank=True)  # empty: until set again
    # Its ledger sums to balance + pending, kept with it in the same transaction. The balance is
    # what may be spent (below zero only as a debt, clawback policy allow_negative); pending is
    # what its pending lots hold.
    points_balance = models.BigIntegerField(default=0, editable=False)
    points_pending = models.BigIntegerField(default=0, editable=False)
    # Its awards less what returns took back of them: what tier thresholds are measured against
    # without a window.
    points_earned = models.BigIntegerField(default=0, editable=False)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer", "program"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "program"], name="uniq_enrollment"),
            models.CheckConstraint(
                condition=Q(points_pending__gte=0), name="enrollment_pending_not_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tier_expires_at"],
                condition=Q(tier_expires_at__isnull=False),
                name="enrollment_tier_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} in {self.program}"


class PointsTransaction(models.Model):
    TENANT_PATH = "enrollment__customer__organization"

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="points_transactions"
    )
    kind = models.CharField(max_length=12, choices=PointsKind.choices)
    points = models.BigIntegerField(help_text="Positive for awards, negative otherwise.")
    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(  # noqa: DJ001 - NULL when absent, unique when given
        max_length=128,
        null=True,
        blank=True,
        help_text="A caller's reference; unique per enrolment.",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    activates_at = models.DateTimeField(null=True, blank=True, help_text="Pending until then.")
    expired_lot = models.ForeignKey(
        "PointsLot",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="For expiry rows: the lot whose remainder expired.",
    )
    # A purchase goes only together with the rows it wrote (a customer's deletion).
    purchase = models.ForeignKey(
        "loyalty.Transaction", on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    rule = models.ForeignKey(
        "loyalty.EarningRule", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # What a purchase's award was measured on, for its returns (loyalty.services.clawback).
    basis = models.CharField(max_length=80, blank=True)
    purchase_return = models.ForeignKey(
        "loyalty.Return", on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["enrollment", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "reference"],
                condition=Q(reference__isnull=False),
                name="uniq_points_reference",
            ),
            # A lot expires once: running the expiry job again cannot expire it twice.
            models.UniqueConstraint(fields=["expired_lot"], name="uniq_lot_expiry"),
            models.CheckConstraint(
                condition=(Q(kind__in=POINTS_IN) & Q(points__gt=0))
                | (Q(kind__in=POINTS_OUT) & Q(points__lt=0)),
                name="points_sign_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"


class PointsLot(models.Model):
    """What is left of one award; deductions spend the spendable lots that expire first."""

    TENANT_PATH = "enrollment__customer__organization"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="lots")
    award = models.OneToOneField(PointsTransaction, on_delete=models.CASCADE, related_name="lot")
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)
    pending_until = models.DateTimeField(null=True, blank=True, help_text="Empty: spendable.")

    class Meta:
        ordering = ["enrollment", "expires_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("points")),
                name="lot_remaining_within_points",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(remaining__gt=0), name="lot_due_to_expire"
            ),
            models.Index(
                fields=["pending_until"],
                condition=Q(pending_until__isnull=False),
                name="lot_due_to_activate",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points}"


class StampCard(models.Model):
    """A stamp card template: collect stamps, redeem them for rewards.

    The design fields say how a Leal client draws the card (the Leal door serves them); colours
    are #RRGGBB, by default those of the CRM's own wallet passes, which keep their fixed look.
    """

    TENANT_PATH = "organization"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="stamp_cards"
    )
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, null=True, blank=True, related_name="stamp_cards"
    )
    name = models.CharField(max_length=200)
    initial_stamps = models.PositiveIntegerField(
        default=0, help_text="Welcome stamps given when a customer is enrolled."
    )
    active = models.BooleanField(default=True)
    card_color = models.CharField(max_length=7, default="#3C414C")
    text_color = models.CharField(max_length=7, default="#FFFFFF")
    stamp_color = models.CharField(max_length=7, default="#FFFFFF")
    stamp_background_color = models.CharField(max_length=7, default="#3C414C")
    stamp_icon = models.CharField(
        max_length=32, default="star", help_text="The icon of a stamp, e.g. coffee, heart, star."
    )
    header_text = models.CharField(max_length=100, blank=True, default="")
    strip_type = models.CharField(max_length=8, choices=StripType.choices, default=StripType.COLOR)
    strip_color = models.CharField(max_length=7, default="#3C414C")
    strip_preset = models.CharField(
        max_length=64, blank=True, default="", help_text="Which preset image fills a preset strip."
    )
    strip_opacity = models.PositiveSmallIntegerField(
        default=100, help_text="How opaque the strip is over the card colour, 0 to 100."
    )
    show_member_field = models.BooleanField(default=True)
    show_stamps_to_reward_field = models.BooleanField(default=True)
    auxiliary_fields = models.JSONField(
        default=list, blank=True, help_text="Up to two more texts on the front of the pass."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            choices_check("strip_type", StripType, "stamp_card_strip_type_valid"),
            models.CheckConstraint(
                condition=Q(strip_opacity__lte=100), name="stamp_card_strip_opacity_percent"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Reward(models.Model):
    TENANT_PATH = "stamp_card__organization"

    stamp_card = models.ForeignKey(StampCard, on_delete=models.CASCADE, related_name="rewards")
    name = models.CharField(max_length=200)
    stamp_cost = models.PositiveIntegerField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stamp_card", "stamp_cost", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(stamp_cost__gte=1), name="reward_costs_a_stamp"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.stamp_cost} stamps)"


# Unambiguous characters only (no 0/O, 1/I/L), so a code read aloud or typed in is right.
CARD_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CARD_CODE_LENGTH = 14  # about 68 bits of randomness


def new_card_code() -> str:
    return "".join(secrets.choice(CARD_CODE_ALPHABET) for _ in range(CARD_CODE_LENGTH))


def new_link_token() -> str:
    return secrets.token_urlsafe(24)


class CustomerCard(models.Model):
    """A customer's card for one stamp card template; `code` is its barcode value."""

    TENANT_PATH = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cards")
    stamp_card = models.ForeignKey(
        StampCard, on_delete=models.PROTECT, related_name="customer_cards"
    )
    code = models.CharField(max_length=32, default=new_card_code, editable=False)
    # The secret part of the card's public page and wallet links.
    link_token = models.CharField(
        max_length=64, unique=True, default=new_link_token, editable=False
    )
    # The sum of this card's stamp ledger, kept with it in the same transaction.
    stamps = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=10, choices=CardStatus.choices, default=CardStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="uniq_card_code"),
            models.UniqueConstraint(
                fields=["customer", "stamp_card"], name="uniq_card_per_customer"
            ),
            models.CheckConstraint(condition=Q(stamps__gte=0), name="card_stamps_not_negative"),
            choices_check("status", CardStatus, "card_status_valid"),
        ]

    def __str__(self) -> str:
        return self.code


class StampTransaction(models.Model):
    TENANT_PATH = "card__organization"

    card = models.ForeignKey(CustomerCard, on_delete=models.CASCADE, related_name="transactions")
    kind = models.CharField(max_length=8, choices=StampKind.choices)
    stamps = models.IntegerField(help_text="Positive when stamps are added, negative when spent.")
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, null=True, blank=True, related_name="redemptions"
    )
    reason = models.CharField(max_length=255, blank=True)
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["card", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(stamps=0), name="stamp_change_not_zero"),
            models.CheckConstraint(
                condition=(Q(kind=StampKind.ADD) & Q(stamps__gt=0) & Q(reward__isnull=True))
                | (Q(kind=StampKind.REDEEM) & Q(stamps__lt=0) & Q(reward__isnull=False))
                | (Q(kind=StampKind.ADJUST) & Q(reward__isnull=True)),
                name="stamp_kind_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.stamps:+d}"


def new_coupon_code() -> str:
    return "".join(secrets.choice(CARD_CODE_ALPHABET) for _ in range(10))


class Coupon(models.Model):
    TENANT_PATH = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    series = models.ForeignKey(CouponSeries, on_delete=models.PROTECT, related_name="coupons")
    code = models.CharField(max_length=32, default=new_coupon_code, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="coupons")
    issued_at = models.DateTimeField(default=timezone.now, editable=False)
    valid_till = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["customer", "-issued_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="uniq_coupon_code"),
        ]

    def __str__(self) -> str:
        return self.code


class CardLinkDelivery(models.Model):
    """One attempt to send a card's links to one address: queued in the transaction that asked
    for it, then sent or failed."""

    TENANT_PATH = "customer__organization"

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="card_link_deliveries"
    )
    card = models.ForeignKey(CustomerCard, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=DeliveryChannel.choices)
    address = models.CharField(max_length=255)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices)
    detail = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "card link deliveries"
        constraints = [
            choices_check("channel", DeliveryChannel, "delivery_channel_valid"),
            choices_check("status", DeliveryStatus, "delivery_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.address}: {self.status}"
