"""Earning rules, edited inline on their programme through the earning rule services; purchases
and their returns, read-only (they are recorded by the purchase and return services only)."""

from django.contrib import admin

from crm.admin_paging import LargeTableAdminMixin
from crm.admin_services import ServiceInlineForm, ServiceInlineFormSet
from crm.models import Store
from crm.tenancy import ReadOnlyAdminMixin, TenantScopedAdmin, TenantScopedMixin, scope_for

from .returns import Clawback, Return, ReturnLine
from .services import earning_rules
from .transactions import EarningRule, Transaction, TransactionLine

RULE_EDITABLE = ["name", "kind", "parameters", "priority", "active_from", "active_until"]


def rule_values(data: dict) -> dict:
    return {name: data[name] for name in RULE_EDITABLE}


class EarningRuleInlineForm(ServiceInlineForm):
    class Meta:
        model = EarningRule
        fields = [*RULE_EDITABLE, "stores"]

    def check(self):
        data = self.cleaned_data
        earning_rules.earning_rule_validate(
            program=self.parent, stores=data["stores"], **rule_values(data)
        )


class EarningRuleFormSet(ServiceInlineFormSet):
    def create(self, data, actor):
        return earning_rules.earning_rule_create(
            program=self.instance, stores=data["stores"], actor=actor, **rule_values(data)
        )

    def update(self, obj, data, actor):
        return earning_rules.earning_rule_update(
            rule=obj, stores=data["stores"], actor=actor, **rule_values(data)
        )

    def delete(self, obj, actor):
        earning_rules.earning_rule_delete(rule=obj, actor=actor)


class EarningRuleInline(TenantScopedMixin, admin.StackedInline):
    """Rules stack base rate, multipliers, bonuses, caps; `priority` orders them within a stage
    (docs/loyalty.md, "Earning from purchases")."""

    model = EarningRule
    form = EarningRuleInlineForm
    formset = EarningRuleFormSet
    extra = 0

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "stores":
            kwargs["queryset"] = scope_for(request, Store.objects.all())
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TransactionLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TransactionLine
    fields = ["sku", "category", "quantity", "unit_price", "line_amount", "returned_quantity"]
    readonly_fields = fields
    extra = 0


class ReturnInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Return
    fields = ["occurred_at", "external_id", "amount", "actor", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Transaction)
class TransactionAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = [
        "occurred_at",
        "external_id",
        "customer",
        "store",
        "total_amount",
        "returned_amount",
        "currency",
        "channel",
    ]
    list_filter = ["channel", "currency"]
    list_select_related = ["customer", "store"]
    search_fields = ["external_id", "customer__email", "customer__public_id"]
    inlines = [TransactionLineInline, ReturnInline]


class ReturnLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReturnLine
    fields = ["line", "quantity", "amount"]
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("line")


class ClawbackInline(ReadOnlyAdminMixin, admin.TabularInline):
    """What the return took back of each award: due, and the cancel or clawback row that took
    it (none: all of it is the shortfall)."""

    model = Clawback
    fk_name = "purchase_return"
    fields = ["award", "points", "row"]
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("award", "row")


@admin.register(Return)
class ReturnAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["occurred_at", "external_id", "purchase", "amount", "actor"]
    list_select_related = ["purchase"]
    search_fields = ["external_id", "purchase__external_id"]
    inlines = [ReturnLineInline, ClawbackInline]
