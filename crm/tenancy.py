"""Tenancy: every row belongs to one organization, and every caller sees only its own.

Each tenant-owned model names the lookup path from itself to its organization in TENANT_PATH
(e.g. "customer__organization"); `for_organization` filters any queryset by it. The admin mixins
below apply it to staff users: list and change pages, search, foreign-key choices and inlines.
Superusers see every organization.
"""

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest


def tenant_path(model: type[Model]) -> str:
    path = getattr(model, "TENANT_PATH", None)
    if path is None:
        raise TypeError(f"{model.__name__} does not declare TENANT_PATH")
    return path


def for_organization(queryset: QuerySet, organization_id: int | None) -> QuerySet:
    if organization_id is None:
        return queryset.none()
    return queryset.filter(**{tenant_path(queryset.model): organization_id})


def sees_all(request: HttpRequest) -> bool:
    return request.user.is_superuser


def scope_for(request: HttpRequest, queryset: QuerySet) -> QuerySet:
    """The part of `queryset` the user behind `request` may see."""
    if sees_all(request):
        return queryset
    return for_organization(queryset, request.user.organization_id)


class TenantScopedMixin:
    """Scopes an admin (or inline) and its foreign-key choices to the staff member's organization.

    A staff member's only choice of organization is their own, so the organization field stays
    in forms, and the unique constraints that include it are validated there.
    """

    def get_queryset(self, request):
        return scope_for(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if not sees_all(request) and hasattr(related, "TENANT_PATH"):
            queryset = (
                kwargs["queryset"] if "queryset" in kwargs else related._default_manager.all()
            )
            kwargs["queryset"] = scope_for(request, queryset)
            if related._meta.label == "crm.Organization":
                kwargs.update(initial=request.user.organization_id, required=True, empty_label=None)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request):
        """For staff: no organization filter, and related filters offer only their own rows."""
        filters = list(super().get_list_filter(request))
        if sees_all(request):
            return filters
        return [
            (f, admin.RelatedOnlyFieldListFilter) if self._is_relation(f) else f
            for f in filters
            if f != "organization"
        ]

    def _is_relation(self, list_filter) -> bool:
        return (
            isinstance(list_filter, str)
            and get_fields_from_path(self.model, list_filter)[-1].is_relation
        )

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        if not sees_all(request):
            display = [d for d in display if d != "organization"]
        return display


class TenantScopedAdmin(TenantScopedMixin, admin.ModelAdmin):
    pass


def viewed_object(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> Model:
    """The object of a page of its own that an admin adds (a report, a preview): 404 when the
    user's organization has no such object, 403 without the permission to view it."""
    obj = model_admin.get_object(request, object_id)
    if obj is None:
        raise Http404(f"No such {model_admin.opts.verbose_name}.")
    if not model_admin.has_view_or_change_permission(request, obj):
        raise PermissionDenied
    return obj


class ReadOnlyAdminMixin:
    """For append-only ledgers and derived rows: they change only through services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
