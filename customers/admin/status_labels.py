"""The admin of status labels, checked and written through the status label services."""

from django import forms
from django.contrib import admin

from crm.admin_services import ServiceAdminMixin, ServiceForm
from crm.tenancy import TenantScopedAdmin
from customers.models import StatusLabel
from customers.services.status_labels import (
    status_label_create,
    status_label_delete,
    status_label_update,
    status_label_validate,
)

BY_STATUS = [("", "As its status has it"), ("true", "Yes"), ("false", "No")]


class StatusLabelForm(ServiceForm):
    class Meta:
        model = StatusLabel
        fields = ["organization", "name", "status", "is_default", "may_earn", "may_spend"]

    def check(self):
        label = self.instance if self.instance.pk else None
        data = self.cleaned_data
        status_label_validate(
            organization=label.organization if label else data["organization"],
            name=data["name"],
            status=data["status"],
            is_default=data["is_default"],
            label=label,
        )


class NewStatusLabelForm(StatusLabelForm):
    """A new label may earn and spend as its status has it unless the staff member says
    otherwise: a checkbox left unticked could not tell "no" from "as its status has it"."""

    earning = forms.NullBooleanField(label="May earn", widget=forms.Select(choices=BY_STATUS))
    spending = forms.NullBooleanField(label="May spend", widget=forms.Select(choices=BY_STATUS))

    class Meta(StatusLabelForm.Meta):
        fields = ["organization", "name", "status", "is_default"]


@admin.register(StatusLabel)
class StatusLabelAdmin(ServiceAdminMixin, TenantScopedAdmin):
    form = StatusLabelForm
    add_form = NewStatusLabelForm
    list_display = ["name", "status", "is_default", "may_earn", "may_spend", "organization"]
    list_filter = ["status", "organization"]
    list_select_related = ["organization"]
    search_fields = ["name"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def create(self, data, actor):
        return status_label_create(
            organization=data["organization"],
            name=data["name"],
            status=data["status"],
            is_default=data["is_default"],
            may_earn=data["earning"],
            may_spend=data["spending"],
            actor=actor,
        )

    def update(self, obj, data, actor):
        return status_label_update(
            label=obj,
            name=data["name"],
            status=data["status"],
            is_default=data["is_default"],
            may_earn=data["may_earn"],
            may_spend=data["may_spend"],
            actor=actor,
        )

    def delete(self, obj, actor):
        status_label_delete(label=obj, actor=actor)
