"""The customer pages of the member-care console.

Forms check their input with the same service functions that then write it, so a rule holds in
the admin exactly as in every other door.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from crm.actors import SYSTEM, Actor
from crm.admin_paging import LargeTableAdminMixin
from crm.admin_services import ServiceAdminMixin, ServiceForm, form_field_of
from crm.errors import DomainError
from crm.tenancy import ReadOnlyAdminMixin, TenantScopedAdmin, TenantScopedMixin, sees_all
from customers.membership.registration import customer_register, customer_validate
from customers.membership.update import customer_update
from customers.services.channels import (
    channel_add,
    channel_remove,
    channel_update,
    channel_validate,
)
from customers.services.extended_fields import (
    extended_field_allowed_values,
    extended_field_define,
    extended_field_delete,
    extended_field_update,
    extended_field_validate,
)
from customers.services.identifiers import (
    identifier_add,
    identifier_remove,
    identifier_update,
    identifier_validate,
)
from customers.services.status_labels import (
    status_label_create,
    status_label_delete,
    status_label_update,
    status_label_validate,
)
from customers.services.update import customer_delete
from loyalty.models import CustomerCard, Enrollment

from .console import ConsoleMixin
from .fields import CUSTOMER_FIELDS
from .inputs import PROFILE_FIELDS, ChannelInput, CustomerInput, IdentifierInput
from .membership.search import customer_search
from .models import (
    CommChannel,
    Customer,
    ExtendedFieldDefinition,
    Identifier,
    SourceAccount,
    StatusLabel,
)
from .normalization import normalize_email, normalize_phone


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
        fields = [
            "type",
            "value",
            "primary",
            "verified",
            "subscribed",
            "residence",
            "office",
            "last_viewed_at",
        ]

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
    fields = ["program", "tier", "tier_expires_at", "points_balance", "enrolled_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


class CardInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CustomerCard
    fields = ["code", "stamp_card", "stamps", "status", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


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
    search_help_text = "Name, email or phone fragment, identifier value, card code or customer id."
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


class StatusLabelForm(ServiceForm):
    class Meta:
        model = StatusLabel
        fields = ["organization", "name", "status", "is_default"]

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


@admin.register(StatusLabel)
class StatusLabelAdmin(ServiceAdminMixin, TenantScopedAdmin):
    form = StatusLabelForm
    list_display = ["name", "status", "is_default", "organization"]
    list_filter = ["status", "organization"]
    list_select_related = ["organization"]
    search_fields = ["name"]

    def create(self, data, actor):
        return status_label_create(
            organization=data["organization"],
            name=data["name"],
            status=data["status"],
            is_default=data["is_default"],
            actor=actor,
        )

    def update(self, obj, data, actor):
        return status_label_update(
            label=obj,
            name=data["name"],
            status=data["status"],
            is_default=data["is_default"],
            actor=actor,
        )

    def delete(self, obj, actor):
        status_label_delete(label=obj, actor=actor)


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
