"""Source accounts, identifiers and channels across customers, listed read-only: each is changed
on its customer's page, through the services.
"""

from django.contrib import admin

from crm.admin_paging import LargeTableAdminMixin
from crm.tenancy import ReadOnlyAdminMixin, TenantScopedAdmin
from customers.models import CommChannel, Identifier, SourceAccount


@admin.register(SourceAccount)
class SourceAccountAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["customer", "source", "account_id", "created_at"]
    list_filter = ["source"]
    list_select_related = ["customer"]
    search_fields = ["account_id", "customer__email", "customer__public_id"]


@admin.register(Identifier)
class IdentifierAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["type", "value", "source", "account_id", "customer", "organization"]
    list_filter = ["type", "source", "organization"]
    list_select_related = ["customer", "organization"]
    search_fields = ["value"]


@admin.register(CommChannel)
class CommChannelAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["type", "value", "primary", "verified", "subscribed", "customer"]
    list_filter = ["type", "primary", "verified", "subscribed"]
    list_select_related = ["customer"]
    search_fields = ["value"]
