"""The customer admin: the list of live customers, its search, the edit form's layout, and saving
and deleting through the services. The console's pages (customers.console) are mixed in.
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.utils.html import format_html

from crm.actors import Actor
from crm.admin_paging import LargeTableAdminMixin
from crm.tenancy import TenantScopedAdmin, sees_all
from customers.admin.customer_form import CustomerAdminForm
from customers.admin.inlines import (
    CardInline,
    ChannelInline,
    EnrollmentInline,
    IdentifierInline,
    SourceAccountInline,
)
from customers.console.views import ConsoleMixin
from customers.membership.registration import customer_register
from customers.membership.search import customer_search
from customers.membership.update import customer_update
from customers.models import Customer
from customers.services.update import customer_delete


class LiveCustomerChangeList(ChangeList):
    """The list shows live customers: a merged-away one is found by its old id (search)."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.filter(merged_into__isnull=True)


@admin.register(Customer)
class CustomerAdmin(LargeTableAdminMixin, ConsoleMixin, TenantScopedAdmin):
    form = CustomerAdminForm
    list_display = [
        "customer",
        "public_id",
        "email",
        "phone",
        "status",
        "loyalty_type",
        "organization",
        "created_at",
    ]
    # The name opens the 360 page; the id opens the edit form.
    list_display_links = ["public_id"]
    list_filter = ["status", "loyalty_type", "organization"]
    list_select_related = ["organization"]
    # Searched by customer_search (get_search_results): this only makes the admin show the box.
    search_fields = ["email"]
    search_help_text = (
        "Name, email or phone fragment, phone number, external id, identifier value, card code "
        "or customer id."
    )
    ordering = ["-created_at"]
    readonly_fields = [
        "overview",
        "public_id",
        "referral_code",
        "referred_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["overview", "organization", "public_id", ("first_name", "last_name")]}),
        (
            "Contact",
            {"fields": [("email", "email_verified"), "phone", "birthday", "external_id"]},
        ),
        (
            "Address",
            {
                "fields": [
                    "address_line1",
                    "address_line2",
                    ("city", "state"),
                    ("postal_code", "country"),
                ]
            },
        ),
        (
            "Loyalty",
            {
                "fields": [
                    ("loyalty_type", "status", "status_label"),
                    "registered_store",
                    ("referral_code", "referred_by"),
                ]
            },
        ),
        ("Fields", {"fields": ["extended_fields", "custom_fields", "description"]}),
        ("History", {"fields": [("created_at", "updated_at")]}),
    ]
    inlines = [SourceAccountInline, IdentifierInline, ChannelInline, EnrollmentInline, CardInline]

    def get_changelist(self, request, **kwargs):
        return LiveCustomerChangeList

    @admin.display(description="Customer", ordering="last_name")
    def customer(self, obj):
        return format_html('<a href="{}">{}</a>', self.overview_url(obj), obj)

    @admin.display(description="Customer 360")
    def overview(self, obj):
        if obj.pk is None:
            return "—"
        return format_html('<a href="{}">Open the customer 360 page</a>', self.overview_url(obj))

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("cust_"):
            # An old id of a merged-away customer finds the customer it was merged into.
            return queryset.filter(Q(public_id=term) | Q(merged_away__public_id=term)), False
        organization = None if sees_all(request) else request.user.organization
        return customer_search(queryset, organization=organization, text=term), False

    def save_model(self, request, obj, form, change):
        actor = Actor.staff(request.user)
        if change:
            customer_update(customer=obj, data=form.to_input(changed_only=True), actor=actor)
            return
        result = customer_register(
            organization=obj.organization, data=form.to_input(changed_only=False), actor=actor
        )
        # The admin goes on with `obj` (inlines, history, redirect): make it the registered row.
        for model_field in Customer._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(result.customer, model_field.attname))
        obj._state.adding = False

    def delete_model(self, request, obj):
        customer_delete(customer=obj, actor=Actor.staff(request.user))

    def delete_queryset(self, request, queryset):
        for customer in queryset:
            customer_delete(customer=customer, actor=Actor.staff(request.user))

    def save_formset(self, request, form, formset, change):
        formset.actor = Actor.staff(request.user)
        super().save_formset(request, form, formset, change)
