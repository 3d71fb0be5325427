"""The forms of the staff actions on the customer 360 page, each offering only the customer's own
rows (or their organization's).
"""

import re
import secrets

from django import forms
from django.utils import timezone

from crm.admin_services import add_service_error
from crm.errors import DomainError
from crm.models import Store
from customers import selectors
from customers.choices import CustomerStatus, ExtendedFieldType, Source
from customers.inputs import CustomerInput
from customers.models import Customer, StatusLabel
from loyalty.models import CouponSeries, Program, Reward, StampCard
from loyalty.points_rewards import PointsReward
from loyalty.services.points import MAX_POINTS
from loyalty.services.stamps import MAX_STAMPS_PER_CALL


class CustomerForm(forms.Form):
    """A form whose choices are the customer's own rows (or their organization's)."""

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer


class CardChoice(forms.ModelChoiceField):
    def label_from_instance(self, card):
        return f"{card.stamp_card.name} · {card.code}"


class StampsForm(CustomerForm):
    card = CardChoice(queryset=None)
    stamps = forms.IntegerField(min_value=1, max_value=MAX_STAMPS_PER_CALL)
    reason = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = self.customer.cards.select_related("stamp_card")


class RedeemForm(CustomerForm):
    card = CardChoice(queryset=None)
    reward = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = self.customer.cards.select_related("stamp_card")
        self.fields["reward"].queryset = Reward.objects.filter(
            stamp_card__customer_cards__customer=self.customer
        )


class PointsRewardChoice(forms.ModelChoiceField):
    def label_from_instance(self, reward):
        return f"{reward.program.name} · {reward.name} ({reward.points_cost} points)"


class PointsRewardForm(CustomerForm):
    reward = PointsRewardChoice(queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reward"].queryset = PointsReward.objects.filter(
            program__enrollments__customer=self.customer, active=True
        ).select_related("program")


class PointsForm(CustomerForm):
    enrollment = forms.ModelChoiceField(queryset=None, label="Programme")
    direction = forms.ChoiceField(choices=[("award", "Award"), ("deduct", "Deduct")])
    points = forms.IntegerField(min_value=1, max_value=MAX_POINTS)
    reason = forms.CharField(max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].queryset = self.customer.enrollments.select_related("program")
        self.fields["enrollment"].label_from_instance = lambda e: e.program.name


class EnrolForm(CustomerForm):
    program = forms.ModelChoiceField(queryset=None, label="Programme")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(
            organization_id=self.customer.organization_id, active=True
        ).exclude(enrollments__customer=self.customer)


class CardForm(CustomerForm):
    stamp_card = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stamp_card"].queryset = StampCard.objects.filter(
            organization_id=self.customer.organization_id, active=True
        ).exclude(customer_cards__customer=self.customer)


class CouponForm(CustomerForm):
    series = forms.ModelChoiceField(queryset=None, label="Coupon")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["series"].queryset = CouponSeries.objects.filter(
            organization_id=self.customer.organization_id, active=True
        )


class LinksForm(CustomerForm):
    card = CardChoice(queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = self.customer.cards.select_related("stamp_card")


class StatusForm(CustomerForm):
    status = forms.ChoiceField(choices=CustomerStatus.choices)
    status_label = forms.ModelChoiceField(
        queryset=None, required=False, help_text="A label sets the status it stands for."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status_label"].queryset = StatusLabel.objects.filter(
            organization_id=self.customer.organization_id
        )
        self.initial.setdefault("status", self.customer.status)
        self.initial.setdefault("status_label", self.customer.status_label_id)


def extended_form_field(definition) -> forms.Field:
    """A form field that takes what the extended field definition allows."""
    kinds = {
        ExtendedFieldType.STRING: lambda: forms.CharField(),
        ExtendedFieldType.INTEGER: lambda: forms.IntegerField(),
        ExtendedFieldType.DECIMAL: lambda: forms.DecimalField(),
        ExtendedFieldType.BOOLEAN: lambda: forms.NullBooleanField(
            widget=forms.Select(choices=[("unknown", "—"), ("true", "Yes"), ("false", "No")])
        ),
        ExtendedFieldType.DATE: lambda: forms.DateField(
            widget=forms.DateInput(attrs={"type": "date"})
        ),
        ExtendedFieldType.DATETIME: lambda: forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
        ),
        ExtendedFieldType.ENUM: lambda: forms.ChoiceField(
            choices=[("", "—"), *((v, v) for v in definition.allowed_values)]
        ),
    }
    field = kinds[definition.data_type]()
    field.required = False
    field.label = definition.name.replace("_", " ")
    field.help_text = definition.get_data_type_display()
    return field


class FieldsForm(CustomerForm):
    """The extended fields, one typed field each, and the custom fields as `key = value` lines."""

    custom_fields = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="One per line: name = value. Remove a line to remove the field.",
    )

    def __init__(self, *args, definitions: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if definitions is None:
            definitions = selectors.extended_field_definitions(
                organization=self.customer.organization
            )
        current = self.customer.extended_fields
        for name, definition in sorted(definitions.items()):
            self.fields[f"ext_{name}"] = extended_form_field(definition)
            self.initial.setdefault(f"ext_{name}", current.get(name))
        self.definitions = definitions
        self.initial.setdefault(
            "custom_fields",
            "\n".join(f"{k} = {v}" for k, v in sorted(self.customer.custom_fields.items())),
        )

    def clean_custom_fields(self):
        fields = {}
        for number, line in enumerate(self.cleaned_data["custom_fields"].splitlines(), 1):
            if not line.strip():
                continue
            name, equals, value = line.partition("=")
            if not equals or not name.strip():
                raise forms.ValidationError(f"Line {number}: write it as name = value.")
            fields[name.strip()] = value.strip()
        return fields

    def as_input(self) -> CustomerInput:
        extended = {
            name: self.cleaned_data.get(f"ext_{name}")
            for name in self.definitions
            if self.cleaned_data.get(f"ext_{name}") not in (None, "")
            or name in self.customer.extended_fields
        }
        extended = {k: (None if v == "" else v) for k, v in extended.items()}
        custom = self.cleaned_data["custom_fields"]
        removed = {key: None for key in self.customer.custom_fields if key not in custom}
        return CustomerInput(extended_fields=extended, custom_fields={**removed, **custom})


# A refusal of one of a purchase's lines names it: "lines[0].unit_price".
LINE_ERROR = re.compile(r"lines\[(?P<index>[0-9]+)\]\.(?P<name>\w+)")
# What a datetime-local input holds.
LOCAL_DATETIME = "%Y-%m-%dT%H:%M"


class PurchaseForm(CustomerForm):
    """A purchase of the customer that did not reach the CRM. The external id is made when the
    form is shown (and may be changed to the receipt's): the form sent twice records it once."""

    external_id = forms.CharField(
        max_length=64, label="External id", help_text="The seller's id of the purchase."
    )
    occurred_at = forms.DateTimeField(
        label="Date",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_DATETIME),
    )
    store = forms.ModelChoiceField(queryset=None, required=False, empty_label="No store")
    channel = forms.ChoiceField(choices=Source.choices, initial=Source.INSTORE)
    currency = forms.CharField(max_length=3, help_text="e.g. EUR.")
    lines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One item a line: SKU, category, quantity, unit price, e.g. "
        "RUN-1, shoes, 1, 1200.00 (the category may be left empty).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.filter(
            organization_id=self.customer.organization_id
        )
        self.initial.setdefault("external_id", f"staff-{secrets.token_hex(6)}")
        self.initial.setdefault("occurred_at", timezone.localtime())

    def clean_lines(self) -> list[dict]:
        """The items as the purchase service takes them; their values are its to check."""
        items = []
        given = (line for line in self.cleaned_data["lines"].splitlines() if line.strip())
        for number, line in enumerate(given, 1):
            parts = [part.strip() for part in line.split(",")]
            if len(parts) != 4:
                raise forms.ValidationError(
                    f"Item {number}: write it as SKU, category, quantity, unit price."
                )
            sku, category, quantity, unit_price = parts
            items.append(
                {"sku": sku, "category": category, "quantity": quantity, "unit_price": unit_price}
            )
        return items

    def add_service_error(self, error: DomainError) -> None:
        """The service's refusal on the field it names; an item's on the lines, saying which."""
        if line := LINE_ERROR.fullmatch(error.field or ""):
            what = line["name"].replace("_", " ")
            self.add_error("lines", f"Item {int(line['index']) + 1}, {what}: {error.message}")
        else:
            add_service_error(self, error)
