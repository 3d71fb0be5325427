"""The rows shown on a customer's admin page.

Identifiers and channels are checked and saved through their services, as the staff member;
source accounts, enrolments and cards are shown read-only.
"""

import dataclasses

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from crm.actors import SYSTEM
from crm.admin_services import form_field_of
from crm.errors import DomainError
from crm.tenancy import ReadOnlyAdminMixin, TenantScopedMixin
from customers.inputs import ChannelInput, IdentifierInput
from customers.models import CommChannel, Customer, Identifier, SourceAccount
from customers.services.channels import (
    channel_add,
    channel_remove,
    channel_update,
    channel_validate,
)
from customers.services.identifiers import (
    identifier_add,
    identifier_remove,
    identifier_update,
    identifier_validate,
)
from loyalty.models import CustomerCard, Enrollment


class ServiceInlineFormSet(BaseInlineFormSet):
    """Hands each inline form its customer, and saves through the services as the staff member
    (`actor`, set by the admin)."""

    actor = SYSTEM

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "customer": self.instance}


class CustomerInlineForm(forms.ModelForm):
    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer

    def validate_with(self, check) -> None:
        """Run a service check; its error lands on the field it names."""
        if self.errors or not self.has_changed() or self.customer.organization_id is None:
            return
        if self.cleaned_data.get("DELETE"):
            return
        try:
            check()
        except DomainError as error:
            self.add_error(form_field_of(error, self, {}), error.message)


class IdentifierInlineForm(CustomerInlineForm):
    class Meta:
        model = Identifier
        fields = ["source", "account_id", "type", "value", "series_id", "status_label"]

    def as_input(self) -> IdentifierInput:
        data = self.cleaned_data
        return IdentifierInput(
            type=data["type"],
            value=data["value"],
            series_id=data.get("series_id"),
            status_label=data.get("status_label") or "",
            extended_fields=self.instance.extended_fields or {},
        )

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and {"source", "account_id", "type"} & set(self.changed_data):
            self.add_error(
                None,
                "Source, account and type cannot change: remove the identifier and add another.",
            )
        self.validate_with(self._check)
        return cleaned

    def _check(self):
        _, _, identifier = identifier_validate(
            organization=self.customer.organization,
            source=self.cleaned_data["source"],
            account_id=self.cleaned_data.get("account_id") or "",
            data=self.as_input(),
            exclude=self.instance if self.instance.pk else None,
        )
        self.cleaned_data["value"] = identifier.value


class IdentifierFormSet(ServiceInlineFormSet):
    def save_new(self, form, commit=True):
        return identifier_add(
            customer=self.instance,
            source=form.cleaned_data["source"],
            account_id=form.cleaned_data.get("account_id") or "",
            data=form.as_input(),
            actor=self.actor,
        )

    def save_existing(self, form, obj, commit=True):
        return identifier_update(identifier=obj, data=form.as_input(), actor=self.actor)

    def delete_existing(self, obj, commit=True):
        identifier_remove(identifier=obj, actor=self.actor)


class ChannelInlineForm(CustomerInlineForm):
    class Meta:
        model = CommChannel
        fields = [field.name for field in dataclasses.fields(ChannelInput)]

    def as_input(self) -> ChannelInput:
        return ChannelInput(**{name: self.cleaned_data.get(name) for name in self.Meta.fields})

    def clean(self):
        cleaned = super().clean()
        self.validate_with(self._check)
        return cleaned

    def _check(self):
        channel = channel_validate(
            customer=self.customer,
            data=self.as_input(),
            exclude=self.instance if self.instance.pk else None,
        )
        self.cleaned_data["value"] = channel.value


class ChannelFormSet(ServiceInlineFormSet):
    def save_new(self, form, commit=True):
        return channel_add(customer=self.instance, data=form.as_input(), actor=self.actor)

    def save_existing(self, form, obj, commit=True):
        return channel_update(channel=obj, data=form.as_input(), actor=self.actor)

    def delete_existing(self, obj, commit=True):
        channel_remove(channel=obj, actor=self.actor)


class SourceAccountInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SourceAccount
    fields = ["source", "account_id", "first_name", "last_name", "custom_fields", "created_at"]
    readonly_fields = fields
    extra = 0


class IdentifierInline(TenantScopedMixin, admin.TabularInline):
    model = Identifier
    form = IdentifierInlineForm
    formset = IdentifierFormSet
    extra = 0


class ChannelInline(TenantScopedMixin, admin.TabularInline):
    model = CommChannel
    form = ChannelInlineForm
    formset = ChannelFormSet
    extra = 0


class EnrollmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Enrollment
    fields = [
        "program",
        "tier",
        "tier_expires_at",
        "points_balance",
        "points_pending",
        "enrolled_at",
    ]
    readonly_fields = fields
    extra = 0
    show_change_link = True


class CardInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CustomerCard
    fields = ["code", "stamp_card", "stamps", "status", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
