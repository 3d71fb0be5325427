"""The admin of extended field definitions, checked and written through their services."""

from django.contrib import admin
from django.db.models import Q

from crm.admin_services import ServiceAdminMixin, ServiceForm
from crm.tenancy import TenantScopedAdmin, sees_all
from customers.models import ExtendedFieldDefinition
from customers.services.extended_fields import (
    extended_field_allowed_values,
    extended_field_define,
    extended_field_delete,
    extended_field_update,
    extended_field_validate,
)


class ExtendedFieldDefinitionForm(ServiceForm):
    class Meta:
        model = ExtendedFieldDefinition
        fields = ["organization", "name", "data_type", "allowed_values", "scope"]

    def check(self):
        data = self.cleaned_data
        if self.instance.pk:
            extended_field_allowed_values(self.instance.data_type, data["allowed_values"])
            return
        extended_field_validate(
            organization=data.get("organization"),
            name=data["name"],
            data_type=data["data_type"],
            allowed_values=data["allowed_values"],
            scope=data["scope"],
        )


@admin.register(ExtendedFieldDefinition)
class ExtendedFieldDefinitionAdmin(ServiceAdminMixin, TenantScopedAdmin):
    """Staff see the global definitions beside their own, and change only their own.

    A definition's name, type and scope, which stored values follow, stay as they were created;
    an enum's allowed values change.
    """

    form = ExtendedFieldDefinitionForm
    list_display = ["name", "data_type", "scope", "organization"]
    list_filter = ["scope", "data_type"]
    list_select_related = ["organization"]
    search_fields = ["name"]

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if sees_all(request):
            return queryset
        return queryset.filter(
            Q(organization_id=request.user.organization_id) | Q(organization__isnull=True)
        )

    fixed_after_create = ("organization", "name", "data_type", "scope")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.organization_id is None and not sees_all(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.organization_id is None and not sees_all(request):
            return False
        return super().has_delete_permission(request, obj)

    def create(self, data, actor):
        return extended_field_define(
            organization=data.get("organization"),
            name=data["name"],
            data_type=data["data_type"],
            allowed_values=data["allowed_values"],
            scope=data["scope"],
            actor=actor,
        )

    def update(self, obj, data, actor):
        return extended_field_update(
            definition=obj, allowed_values=data["allowed_values"], actor=actor
        )

    def delete(self, obj, actor):
        extended_field_delete(definition=obj, actor=actor)
