from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.html import format_html_join
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as DjangoOtpTOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from .admin_services import ServiceAdminMixin, ServiceForm, adopt, staff_actor, unchanged
from .models import ApiKey, ConfigurationChange, Organization, Store, User
from .services import (
    api_key_create,
    api_key_rename,
    api_key_revoke,
    store_create,
    store_delete,
    store_update,
    store_validate,
)
from .tenancy import ReadOnlyAdminMixin, TenantScopedAdmin, sees_all


class SuperuserCreatesMixin:
    """Tenants themselves are created and removed by superusers only."""

    def has_add_permission(self, request, obj=None):
        return sees_all(request)

    def has_delete_permission(self, request, obj=None):
        return sees_all(request)


@admin.register(Organization)
class OrganizationAdmin(SuperuserCreatesMixin, TenantScopedAdmin):
    list_display = ["name", "slug", "default_region", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_readonly_fields(self, request, obj=None):
        return [] if sees_all(request) else ["slug"]

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if sees_all(request) else {}


class StoreForm(ServiceForm):
    class Meta:
        model = Store
        fields = ["organization", "code", "name", "active"]

    def check(self):
        store = self.instance if self.instance.pk else None
        data = self.cleaned_data
        store_validate(
            organization=store.organization if store else data["organization"],
            code=store.code if store else data["code"],
            name=data["name"],
            store=store,
        )


@admin.register(Store)
class StoreAdmin(ServiceAdminMixin, TenantScopedAdmin):
    """A store's code, which tills and imports use, stays as it was created."""

    form = StoreForm
    list_display = ["code", "name", "organization", "active"]
    list_filter = ["active", "organization"]
    list_select_related = ["organization"]
    search_fields = ["code", "name"]

    fixed_after_create = ("organization", "code")

    def create(self, data, actor):
        return store_create(
            organization=data["organization"],
            code=data["code"],
            name=data["name"],
            active=data["active"],
            actor=actor,
        )

    def update(self, obj, data, actor):
        return store_update(store=obj, name=data["name"], active=data["active"], actor=actor)

    def delete(self, obj, actor):
        store_delete(store=obj, actor=actor)


class SuperuserOnlyMixin:
    """Accounts and permissions span organizations: only superusers manage them.

    Others find no rows at all, so that a page of one (the history page looks for the object
    before it asks for permission) answers alike whether the id exists or not.
    """

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if sees_all(request) else queryset.none()

    def has_module_permission(self, request):
        return sees_all(request)

    def has_view_permission(self, request, obj=None):
        return sees_all(request)

    def has_add_permission(self, request):
        return sees_all(request)

    def has_change_permission(self, request, obj=None):
        return sees_all(request)

    def has_delete_permission(self, request, obj=None):
        return sees_all(request)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(SuperuserOnlyMixin, DjangoGroupAdmin):
    pass


@admin.register(User)
class UserAdmin(SuperuserOnlyMixin, DjangoUserAdmin):
    """Staff accounts and their organization."""

    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Organization", {"fields": ["organization"]}),
    ]
    add_fieldsets = [
        *DjangoUserAdmin.add_fieldsets,
        ("Organization", {"fields": ["organization"]}),
    ]
    list_display = ["username", "email", "organization", "is_staff", "is_superuser"]
    list_filter = ["organization", "is_staff", "is_superuser", "is_active"]
    list_select_related = ["organization"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = ["name", "prefix", "organization", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organization"]
    list_select_related = ["organization"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name"]
        return ["organization", "name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else ["organization", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        actor = staff_actor(request)
        if change:
            adopt(obj, api_key_rename(api_key=unchanged(obj), name=obj.name, actor=actor))
            return
        api_key, raw_key = api_key_create(organization=obj.organization, name=obj.name, actor=actor)
        adopt(obj, api_key)
        self.message_user(
            request,
            f"The new key is {raw_key} — copy it now: it is not stored and cannot be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        actor = staff_actor(request)
        for api_key in queryset:
            api_key_revoke(api_key=api_key, actor=actor)
        self.message_user(request, f"Revoked {len(queryset)} key(s).")


# Login attempts, lockouts and authenticator devices belong to accounts, which span
# organizations: superusers alone see them (docs/security.md).
for model, model_admin in [
    (AccessAttempt, AccessAttemptAdmin),
    (AccessLog, AccessLogAdmin),
    (AccessFailureLog, AccessFailureLogAdmin),
]:
    admin.site.unregister(model)
    admin.site.register(
        model,
        type(
            model_admin.__name__,
            (SuperuserOnlyMixin, model_admin),
            {"ordering": ["-attempt_time", "-pk"]},
        ),
    )

admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(SuperuserOnlyMixin, DjangoOtpTOTPDeviceAdmin):
    """A staff member's authenticator app; the page of one links to its QR code."""

    ordering = ["user__username", "pk"]

    def device_or_404(self, request, pk) -> TOTPDevice:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(TOTPDevice, pk=pk)

    def config_view(self, request, pk):
        self.device_or_404(request, pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request, pk):
        self.device_or_404(request, pk)
        return super().qrcode_view(request, pk)


@admin.register(ConfigurationChange)
class ConfigurationChangeAdmin(ReadOnlyAdminMixin, TenantScopedAdmin):
    """Who changed which store, API key, status label, extended field, programme, tier, stamp
    card, reward or coupon series, from which door, and from what to what."""

    list_display = ["created_at", "subject", "object_repr", "action", "actor", "organization"]
    list_filter = ["subject", "action", "organization"]
    list_select_related = ["organization"]
    search_fields = ["object_repr", "actor"]
    fields = [
        "created_at",
        "organization",
        "subject",
        "object_id",
        "object_repr",
        "action",
        "changes_shown",
        "actor",
        "actor_context",
        "request_id",
    ]
    readonly_fields = fields

    @admin.display(description="Changes")
    def changes_shown(self, obj):
        return format_html_join(
            "",
            "<div><b>{}</b>: {} → {}</div>",
            ((name, before, after) for name, (before, after) in obj.changes.items()),
        )
