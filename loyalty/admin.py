"""Loyalty configuration (programmes, tiers, stamp cards, rewards) and read-only ledgers.

Ledgers and running totals change only through the loyalty services, never by editing rows.
"""

from django.contrib import admin

from crm.admin_paging import LargeTableAdminMixin
from crm.tenancy import ReadOnlyAdminMixin, TenantScopedAdmin, TenantScopedMixin

from .models import (
    CardLinkDelivery,
    Coupon,
    CouponSeries,
    CustomerCard,
    Enrollment,
    PointsLot,
    PointsTransaction,
    Program,
    Reward,
    StampCard,
    StampTransaction,
    Tier,
    TierChange,
)


class TierInline(TenantScopedMixin, admin.TabularInline):
    model = Tier
    extra = 0


@admin.register(Program)
class ProgramAdmin(TenantScopedAdmin):
    list_display = [
        "name",
        "organization",
        "active",
        "welcome_points",
        "referrer_points",
        "referee_points",
    ]
    list_filter = ["active", "organization"]
    list_select_related = ["organization"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "description", "active"]}),
        ("Welcome offer", {"fields": ["welcome_points", "welcome_coupon_series"]}),
        (
            "Referrals",
            {
                "fields": ["referrer_points", "referee_points"],
                "description": "Points given when a new member registers with a member's "
                "referral code and joins this programme.",
            },
        ),
    ]
    inlines = [TierInline]


@admin.register(CouponSeries)
class CouponSeriesAdmin(TenantScopedAdmin):
    list_display = ["description", "discount_code", "valid_days", "valid_until", "active"]
    list_filter = ["active", "organization"]
    list_select_related = ["organization"]
    search_fields = ["description", "discount_code"]


@admin.register(Coupon)
class CouponAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["code", "series", "customer", "issued_at", "valid_till", "redeemed_at"]
    list_filter = ["series"]
    list_select_related = ["series", "customer"]
    search_fields = ["code", "customer__email", "customer__public_id"]


@admin.register(Tier)
class TierAdmin(TenantScopedAdmin):
    list_display = ["program", "number", "name"]
    list_select_related = ["program"]
    search_fields = ["name", "program__name"]


class PointsTransactionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PointsTransaction
    fields = ["created_at", "kind", "points", "reason", "reference", "expires_at", "actor"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]
    extra = 0


class PointsLotInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PointsLot
    fields = ["points", "remaining", "expires_at"]
    readonly_fields = fields
    extra = 0


class TierChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TierChange
    fk_name = "enrollment"
    fields = ["created_at", "from_tier", "to_tier", "tier_expires_at", "reason", "actor"]
    readonly_fields = fields
    extra = 0


@admin.register(Enrollment)
class EnrollmentAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = [
        "customer",
        "program",
        "tier",
        "points_balance",
        "points_earned",
        "tier_expires_at",
    ]
    list_filter = ["program"]
    list_select_related = ["customer", "program", "tier"]
    search_fields = ["customer__email", "customer__public_id", "program__name"]
    inlines = [PointsTransactionInline, PointsLotInline, TierChangeInline]


@admin.register(TierChange)
class TierChangeAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "enrollment", "from_tier", "to_tier", "reason", "actor"]
    list_filter = ["reason"]
    list_select_related = ["enrollment__customer", "enrollment__program", "from_tier", "to_tier"]
    search_fields = ["enrollment__customer__email", "enrollment__customer__public_id"]


@admin.register(PointsTransaction)
class PointsTransactionAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "enrollment", "kind", "points", "reason", "reference", "actor"]
    list_filter = ["kind"]
    list_select_related = ["enrollment__customer", "enrollment__program"]
    search_fields = ["reference", "enrollment__customer__email"]


class RewardInline(TenantScopedMixin, admin.TabularInline):
    model = Reward
    extra = 0


@admin.register(StampCard)
class StampCardAdmin(TenantScopedAdmin):
    list_display = ["name", "store", "initial_stamps", "active", "organization"]
    list_filter = ["active", "organization"]
    list_select_related = ["store", "organization"]
    search_fields = ["name"]
    inlines = [RewardInline]


@admin.register(Reward)
class RewardAdmin(TenantScopedAdmin):
    list_display = ["name", "stamp_card", "stamp_cost", "active"]
    list_filter = ["active"]
    list_select_related = ["stamp_card"]
    search_fields = ["name", "stamp_card__name"]


class StampTransactionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StampTransaction
    fields = ["created_at", "kind", "stamps", "reward", "reason", "actor"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]
    extra = 0


@admin.register(CustomerCard)
class CustomerCardAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["code", "customer", "stamp_card", "stamps", "status", "created_at"]
    list_filter = ["status", "stamp_card"]
    list_select_related = ["customer", "stamp_card"]
    search_fields = ["code", "customer__email"]
    inlines = [StampTransactionInline]


@admin.register(StampTransaction)
class StampTransactionAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "card", "kind", "stamps", "reward", "actor"]
    list_filter = ["kind"]
    list_select_related = ["card", "reward"]
    search_fields = ["card__code"]


@admin.register(CardLinkDelivery)
class CardLinkDeliveryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "customer", "card", "channel", "address", "status", "detail"]
    list_filter = ["channel", "status"]
    list_select_related = ["customer", "card"]
    search_fields = ["address", "card__code", "customer__email"]
