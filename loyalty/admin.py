"""Loyalty configuration (coupon series, stamp cards, rewards; programmes and tiers in
loyalty.admin_programmes) and read-only ledgers.

Ledgers and running totals change only through the loyalty services, never by editing rows.
"""

from django import forms
from django.contrib import admin

from crm.admin_paging import LargeTableAdminMixin
from crm.admin_services import (
    LeftOutKeptMixin,
    ServiceAdminMixin,
    ServiceForm,
    ServiceInlineForm,
    ServiceInlineFormSet,
    edited,
)
from crm.tenancy import ReadOnlyAdminMixin, TenantScopedAdmin, TenantScopedMixin

# Registers the programme, tier and points rewards pages: Django's autodiscovery imports this
# module only.
from . import admin_points_rewards, admin_programmes  # noqa: F401
from .models import (
    CardLinkDelivery,
    Coupon,
    CouponSeries,
    CustomerCard,
    Enrollment,
    PointsLot,
    PointsTransaction,
    Reward,
    StampCard,
    StampTransaction,
)
from .services import coupon_series, stamp_cards
from .tiers import TierChange

COUPON_SERIES_EDITABLE = list(coupon_series.COUPON_SERIES_FIELDS)


class CouponSeriesForm(ServiceForm):
    class Meta:
        model = CouponSeries
        fields = ["organization", *COUPON_SERIES_EDITABLE]

    def check(self):
        data = self.cleaned_data
        coupon_series.coupon_series_validate(
            description=data["description"],
            discount_code=data["discount_code"],
            valid_days=data["valid_days"],
            valid_until=data["valid_until"],
        )


@admin.register(CouponSeries)
class CouponSeriesAdmin(ServiceAdminMixin, TenantScopedAdmin):
    form = CouponSeriesForm
    list_display = ["description", "discount_code", "valid_days", "valid_until", "active"]
    list_filter = ["active", "organization"]
    list_select_related = ["organization"]
    search_fields = ["description", "discount_code"]

    def create(self, data, actor):
        return coupon_series.coupon_series_create(
            organization=data["organization"],
            **edited(data, COUPON_SERIES_EDITABLE),
            actor=actor,
        )

    def update(self, obj, data, actor):
        return coupon_series.coupon_series_update(
            series=obj, **edited(data, COUPON_SERIES_EDITABLE), actor=actor
        )

    def delete(self, obj, actor):
        coupon_series.coupon_series_delete(series=obj, actor=actor)


@admin.register(Coupon)
class CouponAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["code", "series", "customer", "issued_at", "valid_till", "redeemed_at"]
    list_filter = ["series"]
    list_select_related = ["series", "customer"]
    search_fields = ["code", "customer__email", "customer__public_id"]


class PointsTransactionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PointsTransaction
    fields = [
        "created_at",
        "kind",
        "points",
        "reason",
        "reference",
        "activates_at",
        "expires_at",
        "actor",
    ]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]
    extra = 0


class PointsLotInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PointsLot
    fields = ["points", "remaining", "pending_until", "expires_at"]
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
        "points_pending",
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


# Rewards are edited both inline, on their stamp card, and on pages of their own: the two share
# these.
REWARD_EDITABLE = ["name", "stamp_cost", "active"]


def reward_check(data: dict) -> None:
    stamp_cards.reward_validate(name=data["name"], stamp_cost=data["stamp_cost"])


def reward_create(stamp_card: StampCard, data: dict, actor) -> Reward:
    return stamp_cards.reward_create(
        stamp_card=stamp_card, **edited(data, REWARD_EDITABLE), actor=actor
    )


def reward_update(reward: Reward, data: dict, actor) -> Reward:
    return stamp_cards.reward_update(reward=reward, **edited(data, REWARD_EDITABLE), actor=actor)


class RewardInlineForm(ServiceInlineForm):
    class Meta:
        model = Reward
        fields = REWARD_EDITABLE

    def check(self):
        reward_check(self.cleaned_data)


class RewardFormSet(ServiceInlineFormSet):
    def create(self, data, actor):
        return reward_create(self.instance, data, actor)

    def update(self, obj, data, actor):
        return reward_update(obj, data, actor)

    def delete(self, obj, actor):
        stamp_cards.reward_delete(reward=obj, actor=actor)


class RewardInline(TenantScopedMixin, admin.TabularInline):
    model = Reward
    form = RewardInlineForm
    formset = RewardFormSet
    extra = 0


STAMP_CARD_EDITABLE = ["name", "store", "initial_stamps", "active"]
STAMP_CARD_DESIGN = list(stamp_cards.DESIGN_FIELDS)


def yes_no_field() -> forms.TypedChoiceField:
    """A flag as Yes or No: unlike a checkbox, a post without it is told from one saying No."""
    return forms.TypedChoiceField(
        choices=[(True, "Yes"), (False, "No")], coerce=lambda value: value == "True"
    )


class StampCardForm(LeftOutKeptMixin, ServiceForm):
    """A design field that a post leaves out keeps its value (on a new card, its default)."""

    kept_when_left_out = tuple(STAMP_CARD_DESIGN)
    show_member_field = yes_no_field()
    show_stamps_to_reward_field = yes_no_field()

    class Meta:
        model = StampCard
        fields = ["organization", *STAMP_CARD_EDITABLE, *STAMP_CARD_DESIGN]

    def check(self):
        stamp_card = self.instance if self.instance.pk else None
        data = self.cleaned_data
        stamp_cards.stamp_card_validate(
            organization=stamp_card.organization if stamp_card else data["organization"],
            name=data["name"],
            store=data["store"],
            initial_stamps=data["initial_stamps"],
            **edited(data, STAMP_CARD_DESIGN),
        )


@admin.register(StampCard)
class StampCardAdmin(ServiceAdminMixin, TenantScopedAdmin):
    form = StampCardForm
    list_display = ["name", "store", "initial_stamps", "active", "organization"]
    list_filter = ["active", "organization"]
    list_select_related = ["store", "organization"]
    search_fields = ["name"]
    inlines = [RewardInline]
    fieldsets = [
        (None, {"fields": ["organization", *STAMP_CARD_EDITABLE]}),
        ("Design of its wallet passes", {"fields": STAMP_CARD_DESIGN}),
    ]

    def create(self, data, actor):
        return stamp_cards.stamp_card_create(
            organization=data["organization"],
            **edited(data, [*STAMP_CARD_EDITABLE, *STAMP_CARD_DESIGN]),
            actor=actor,
        )

    def update(self, obj, data, actor):
        return stamp_cards.stamp_card_update(
            stamp_card=obj, **edited(data, [*STAMP_CARD_EDITABLE, *STAMP_CARD_DESIGN]), actor=actor
        )

    def delete(self, obj, actor):
        stamp_cards.stamp_card_delete(stamp_card=obj, actor=actor)


class RewardForm(ServiceForm):
    class Meta:
        model = Reward
        fields = ["stamp_card", *REWARD_EDITABLE]

    def check(self):
        reward_check(self.cleaned_data)


@admin.register(Reward)
class RewardAdmin(ServiceAdminMixin, TenantScopedAdmin):
    """A reward stays on the stamp card it was created for."""

    form = RewardForm
    list_display = ["name", "stamp_card", "stamp_cost", "active"]
    list_filter = ["active"]
    list_select_related = ["stamp_card"]
    search_fields = ["name", "stamp_card__name"]

    fixed_after_create = ("stamp_card",)

    def create(self, data, actor):
        return reward_create(data["stamp_card"], data, actor)

    def update(self, obj, data, actor):
        return reward_update(obj, data, actor)

    def delete(self, obj, actor):
        stamp_cards.reward_delete(reward=obj, actor=actor)


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
