"""Programmes and their tiers, saved through the programme services; a programme's page also
edits its earning rules inline, previews them and links to its points chart. Django's
autodiscovery reaches them through loyalty.admin."""

from decimal import Decimal

from django.contrib import admin

from crm.admin_services import (
    LeftOutKeptMixin,
    ServiceAdminMixin,
    ServiceForm,
    ServiceInlineForm,
    ServiceInlineFormSet,
    edited,
)
from crm.tenancy import TenantScopedAdmin, TenantScopedMixin

from .admin_programme_chart import ProgrammeChartMixin
from .admin_purchases import EarningRuleInline
from .admin_rule_preview import RulePreviewMixin
from .models import Program
from .services import programmes
from .tiers import Tier

# Tiers are edited both inline, on their programme, and on pages of their own: the two share
# these.
TIER_EDITABLE = ["number", "name", "points_threshold", "spend_threshold"]
PROGRAM_EDITABLE = list(programmes.PROGRAM_FIELDS)
TIER_SETTINGS = ("tier_basis", "tier_window", "tier_period_months")
RETURN_SETTINGS = ("pending_days", "points_valid_days", "clawback_policy")


def tier_check(tier: Tier | None, program: Program, data: dict) -> None:
    programmes.tier_validate(program=program, **edited(data, TIER_EDITABLE), tier=tier)


def tier_create(program: Program, data: dict, actor) -> Tier:
    return programmes.tier_create(program=program, **edited(data, TIER_EDITABLE), actor=actor)


def tier_update(tier: Tier, data: dict, actor) -> Tier:
    return programmes.tier_update(tier=tier, **edited(data, TIER_EDITABLE), actor=actor)


class TierInlineForm(ServiceInlineForm):
    class Meta:
        model = Tier
        fields = TIER_EDITABLE

    def check(self):
        tier_check(self.instance if self.instance.pk else None, self.parent, self.cleaned_data)


class TierFormSet(ServiceInlineFormSet):
    def create(self, data, actor):
        return tier_create(self.instance, data, actor)

    def update(self, obj, data, actor):
        return tier_update(obj, data, actor)

    def delete(self, obj, actor):
        programmes.tier_delete(tier=obj, actor=actor)


class TierInline(TenantScopedMixin, admin.TabularInline):
    model = Tier
    form = TierInlineForm
    formset = TierFormSet
    extra = 0


POINT_VALUE = ["point_value", "point_value_currency"]


class ProgramForm(LeftOutKeptMixin, ServiceForm):
    """A tier or return setting or the value of a point that a post leaves out keeps its value
    (on a new programme, its default); the value of a point left blank is not configured (0)."""

    kept_when_left_out = (*TIER_SETTINGS, *RETURN_SETTINGS, *POINT_VALUE)

    class Meta:
        model = Program
        fields = ["organization", *PROGRAM_EDITABLE]

    def clean(self):
        if self.cleaned_data.get("point_value", 0) is None:
            self.cleaned_data["point_value"] = Decimal(0)
        return super().clean()

    def check(self):
        program = self.instance if self.instance.pk else None
        data = self.cleaned_data
        programmes.program_validate(
            organization=program.organization if program else data["organization"],
            name=data["name"],
            welcome_points=data["welcome_points"],
            welcome_coupon_series=data["welcome_coupon_series"],
            referrer_points=data["referrer_points"],
            referee_points=data["referee_points"],
            **edited(data, [*POINT_VALUE, *TIER_SETTINGS, *RETURN_SETTINGS]),
            program=program,
        )


@admin.register(Program)
class ProgramAdmin(ProgrammeChartMixin, RulePreviewMixin, ServiceAdminMixin, TenantScopedAdmin):
    """With a page of its points by month (its chart) and one previewing its earning rules."""

    form = ProgramForm
    list_display = [
        "name",
        "organization",
        "active",
        "welcome_points",
        "referrer_points",
        "referee_points",
        "tier_basis",
        "tier_window",
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
        (
            "Value of a point",
            {
                "fields": POINT_VALUE,
                "description": "What one point outstanding is worth, for the programme's "
                "liability on its points chart; 0 (or blank): not configured.",
            },
        ),
        (
            "Tiers",
            {
                "fields": list(TIER_SETTINGS),
                "description": "What members reach the tiers below by (each tier's points or "
                "spend threshold), counted over which window. With a window, a tier lasts a "
                "period (to the end of the year with the calendar year), then is renewed, "
                "upgraded or downgraded by what the member earned or spent in the window. "
                "Lifetime: tiers are reached by all points ever earned and never expire.",
            },
        ),
        (
            "Purchases and returns",
            {
                "fields": list(RETURN_SETTINGS),
                "description": "Points a purchase earns are pending (not spendable) for the "
                "return window, then activate and expire after their validity; a return cancels "
                "pending points, and takes back spendable ones as the clawback policy says.",
            },
        ),
    ]
    inlines = [TierInline, EarningRuleInline]

    def create(self, data, actor):
        return programmes.program_create(
            organization=data["organization"],
            **edited(data, PROGRAM_EDITABLE),
            actor=actor,
        )

    def update(self, obj, data, actor):
        return programmes.program_update(program=obj, **edited(data, PROGRAM_EDITABLE), actor=actor)

    def delete(self, obj, actor):
        programmes.program_delete(program=obj, actor=actor)


class TierForm(ServiceForm):
    class Meta:
        model = Tier
        fields = ["program", *TIER_EDITABLE]

    def check(self):
        tier = self.instance if self.instance.pk else None
        tier_check(tier, tier.program if tier else self.cleaned_data["program"], self.cleaned_data)


@admin.register(Tier)
class TierAdmin(ServiceAdminMixin, TenantScopedAdmin):
    """A tier stays in the programme it was created in."""

    form = TierForm
    list_display = ["program", "number", "name", "points_threshold", "spend_threshold"]
    list_select_related = ["program"]
    search_fields = ["name", "program__name"]

    fixed_after_create = ("program",)

    def create(self, data, actor):
        return tier_create(data["program"], data, actor)

    def update(self, obj, data, actor):
        return tier_update(obj, data, actor)

    def delete(self, obj, actor):
        programmes.tier_delete(tier=obj, actor=actor)
