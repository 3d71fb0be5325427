"""The customer's edit form in the admin.

It checks its input with the same service function that then writes it, so a rule holds in
the admin exactly as in every other door.
"""

from django import forms

from crm.admin_services import form_field_of
from crm.errors import DomainError
from customers.fields import CUSTOMER_FIELDS
from customers.inputs import PROFILE_FIELDS, CustomerInput
from customers.membership.registration import customer_validate
from customers.models import Customer
from customers.normalization import normalize_email, normalize_phone


def normalised(normalize, value, **kwargs):
    try:
        return normalize(value, **kwargs)
    except DomainError as error:
        raise forms.ValidationError(error.message, code=str(error.code)) from None


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        # Every field the services take; the admin's fieldsets lay them out.
        fields = [
            "organization",
            *(field.model_field for field in CUSTOMER_FIELDS if field.input_name),
        ]

    def _organization(self):
        return self.cleaned_data.get("organization") or getattr(self.instance, "organization", None)

    def clean_email(self):
        email = self.cleaned_data.get("email")
        return normalised(normalize_email, email) if email else None

    def clean_phone(self):
        phone = self.cleaned_data.get("phone")
        organization = self._organization()
        if not phone or organization is None:
            return phone or None
        return normalised(normalize_phone, phone, region=organization.default_region)

    def clean_external_id(self):
        return (self.cleaned_data.get("external_id") or "").strip() or None

    def to_input(self, *, changed_only: bool) -> CustomerInput:
        names = self.changed_data if changed_only else list(self.fields)
        data = self.cleaned_data
        given = {}
        for name in names:
            value = data.get(name)
            if name == "status_label":
                given["status_label"] = value.name if value else None
            elif name == "registered_store":
                given["store_code"] = value.code if value else None
            elif name in ("custom_fields", "extended_fields"):
                value = value or {}
                removed = {key: None for key in (self.initial.get(name) or {}) if key not in value}
                given[name] = {**removed, **value}
            elif name in PROFILE_FIELDS:
                given[name] = value
        if given.get("status_label"):
            # The label decides the status.
            given.pop("status", None)
        return CustomerInput(**given)

    def clean(self):
        cleaned = super().clean()
        organization = self._organization()
        if self.errors or organization is None:
            return cleaned
        existing = self.instance if self.instance.pk else None
        try:
            customer_validate(
                organization=organization,
                data=self.to_input(changed_only=existing is not None),
                customer=existing,
            )
        except DomainError as error:
            self.add_error(
                form_field_of(error, self, {"store_code": "registered_store"}), error.message
            )
        return cleaned
