"""Customer API shapes. Input serializers only parse JSON into the services' inputs; output
serializers only render. Rules (normalisation, uniqueness, extended fields) are the services'."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from crm.api.fields import MAX_ID, DateField, DateTimeField, id_field, one_of
from crm.api.rendering import RenderedSerializer
from crm.api.serializers import BatchItemErrorSerializer, InputSerializer
from customers.choices import (
    ChannelType,
    CustomerStatus,
    ExtendedFieldScope,
    ExtendedFieldType,
    IdentifierType,
    LoyaltyType,
    Source,
)
from customers.fields import CUSTOMER_FIELDS, CustomerField, Kind
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from customers.models import Customer
from customers.services.extended_fields import EXTENDED_FIELD_NAME_RULE, FIELD_NAME
from loyalty.api.serializers import (
    CardSerializer,
    EnrollmentSerializer,
    SideEffectSerializer,
    WarningSerializer,
)
from loyalty.services.points import MAX_POINTS

# --- input -------------------------------------------------------------------------------------


def text(**kwargs):
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, **kwargs)


def nullable_text(**kwargs):
    return text(allow_null=True, **kwargs)


class AddressInputSerializer(InputSerializer):
    line_1 = text()
    line_2 = text()
    city = text()
    state = text()
    postal_code = text()
    country = text()

    FIELDS = {
        "line_1": "address_line1",
        "line_2": "address_line2",
        "city": "city",
        "state": "state",
        "postal_code": "postal_code",
        "country": "country",
    }


class IdentifierInputSerializer(InputSerializer):
    type = one_of(IdentifierType.values)
    value = serializers.CharField(trim_whitespace=False)
    series_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_ID
    )
    status_label = text(help_text="Card status (cardnumber identifiers), e.g. ACTIVE.")
    extended_fields = serializers.DictField(required=False)

    def to_input(self, data: dict) -> IdentifierInput:
        return IdentifierInput(
            type=data["type"],
            value=data["value"],
            series_id=data.get("series_id"),
            status_label=data.get("status_label", ""),
            extended_fields=data.get("extended_fields", {}),
        )


class IdentifierCreateSerializer(IdentifierInputSerializer):
    source = one_of(Source.values)
    account_id = text(help_text="For sources with several accounts (WeChat, LINE, Facebook…).")


class IdentifierPatchSerializer(IdentifierInputSerializer):
    """What changes; the type and source account of an identifier stay."""

    type = None


class SourceAccountInputSerializer(InputSerializer):
    source = one_of(Source.values)
    account_id = text(help_text="For sources with several accounts (WeChat, LINE, Facebook…).")
    first_name = text()
    last_name = text()
    custom_fields = serializers.DictField(required=False)
    identifiers = IdentifierInputSerializer(many=True, required=False)


class ChannelMetaSerializer(InputSerializer):
    residence = serializers.BooleanField(required=False, default=False)
    office = serializers.BooleanField(required=False, default=False)
    last_viewed_at = DateTimeField(required=False, allow_null=True, default=None)


class ChannelInputSerializer(InputSerializer):
    type = one_of(ChannelType.values)
    value = serializers.CharField(trim_whitespace=False)
    primary = serializers.BooleanField(required=False, default=False)
    verified = serializers.BooleanField(required=False, default=False)
    subscribed = serializers.BooleanField(required=False, default=True)
    meta = ChannelMetaSerializer(required=False)

    @staticmethod
    def to_input(data: dict) -> ChannelInput:
        meta = data.get("meta") or {}
        return ChannelInput(
            type=data["type"],
            value=data["value"],
            primary=data["primary"],
            verified=data["verified"],
            subscribed=data["subscribed"],
            residence=meta.get("residence", False),
            office=meta.get("office", False),
            last_viewed_at=meta.get("last_viewed_at"),
        )


class ChannelPatchSerializer(ChannelInputSerializer):
    """What changes; a channel's type stays."""

    type = None


class EnrollmentInputSerializer(InputSerializer):
    program_id = id_field()
    tier_number = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=32767
    )
    points = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_POINTS)
    tier_expires_at = DateTimeField(required=False, allow_null=True, default=None)
    points_expire_at = DateTimeField(required=False, allow_null=True, default=None)


class CustomerUpdateSerializer(InputSerializer):
    """Every field is optional: what is not sent is not changed."""

    first_name = text()
    last_name = text()
    email = nullable_text()
    email_verified = serializers.BooleanField(required=False)
    phone = nullable_text(help_text="Read in the organization's region without a country code.")
    birthday = DateField(required=False, allow_null=True)
    address = AddressInputSerializer(required=False)
    description = text()
    external_id = nullable_text()
    loyalty_type = serializers.ChoiceField(LoyaltyType.choices, required=False)
    status = serializers.ChoiceField(CustomerStatus.choices, required=False)
    status_label = nullable_text(help_text="One of the organization's status labels, by name.")
    store = nullable_text(help_text="The registering store's code.")
    custom_fields = serializers.DictField(required=False, help_text="Merged; null removes a key.")
    extended_fields = serializers.DictField(
        required=False, help_text="Checked against the definitions; null removes a field."
    )
    channels = ChannelInputSerializer(many=True, required=False)
    enrollments = EnrollmentInputSerializer(many=True, required=False)
    stamp_card_ids = serializers.ListField(child=id_field(), required=False)

    def to_input(self, validated: dict | None = None) -> CustomerInput:
        data = dict(self.validated_data if validated is None else validated)
        for name, field_name in AddressInputSerializer.FIELDS.items():
            if name in data.get("address", {}):
                data[field_name] = data["address"][name]
        data.pop("address", None)
        if "store" in data:
            data["store_code"] = data.pop("store")
        data["channels"] = [ChannelInputSerializer.to_input(c) for c in data.get("channels", [])]
        data["enrollments"] = [EnrollmentInput(**e) for e in data.get("enrollments", [])]
        if "source_accounts" in data:
            data["source_accounts"] = [
                SourceAccountInput(
                    **{
                        **account,
                        "identifiers": [
                            IdentifierInputSerializer().to_input(i)
                            for i in account.get("identifiers", [])
                        ],
                    }
                )
                for account in data["source_accounts"]
            ]
        return CustomerInput(**data)


class CustomerCreateSerializer(CustomerUpdateSerializer):
    source_accounts = SourceAccountInputSerializer(many=True, required=False)
    referral_code = text(help_text="The referral code of the customer who referred this one.")


class BatchSerializer(InputSerializer):
    customers = serializers.ListField(
        child=serializers.DictField(),
        max_length=100,
        help_text="Up to 100 customers, each shaped as for creating one. A customer found by "
        "email, external id or an identifier is updated; any other is registered.",
    )


# --- output ------------------------------------------------------------------------------------


OUTPUT_FIELDS = {
    Kind.TEXT: serializers.CharField,
    Kind.OPTIONAL_TEXT: serializers.CharField,
    Kind.REFERENCE: serializers.CharField,
    Kind.FLAG: serializers.BooleanField,
    Kind.DATE: serializers.DateField,
    Kind.JSON: serializers.DictField,
}
NULLABLE_KINDS = {Kind.OPTIONAL_TEXT, Kind.REFERENCE, Kind.DATE}


def api_field(field: CustomerField) -> serializers.Field:
    """The output field of a customer field, read from the customer document."""
    options = {} if field.api_name == field.name else {"source": field.name}
    if field.kind is Kind.CHOICE:
        choices = Customer._meta.get_field(field.model_field).choices
        return serializers.ChoiceField(choices, **options)
    if field.kind in NULLABLE_KINDS:
        options["allow_null"] = True
    return OUTPUT_FIELDS[field.kind](**options)


ADDRESS_FIELDS = [field for field in CUSTOMER_FIELDS if field.api_group == "address"]


class AddressSerializer(RenderedSerializer):
    def get_fields(self):
        return {field.api_name: api_field(field) for field in ADDRESS_FIELDS}


# The customer objects' groups of fields, each one object under its name.
API_GROUPS = {"address": AddressSerializer}


def api_fields(fields: list[CustomerField]) -> dict[str, serializers.Field]:
    """The output fields of customer `fields`, a group's in one nested object."""
    declared: dict[str, serializers.Field] = {}
    for field in fields:
        if field.api_group:
            declared.setdefault(field.api_group, API_GROUPS[field.api_group](source="*"))
        else:
            declared[field.api_name] = api_field(field)
    return declared


class CustomerSummarySerializer(RenderedSerializer):
    def get_fields(self):
        return {
            "id": serializers.CharField(source="public_id"),
            **api_fields([field for field in CUSTOMER_FIELDS if field.summary]),
            "created_at": serializers.DateTimeField(),
            "updated_at": serializers.DateTimeField(),
        }


class IdentifierSerializer(RenderedSerializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    account_id = serializers.CharField()
    type = serializers.CharField()
    value = serializers.CharField()
    series_id = serializers.IntegerField(allow_null=True)
    status_label = serializers.CharField()
    extended_fields = serializers.DictField()


class SourceAccountSerializer(RenderedSerializer):
    source = serializers.CharField()
    account_id = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    custom_fields = serializers.DictField()
    identifiers = IdentifierSerializer(many=True)


class ChannelMetaOutputSerializer(RenderedSerializer):
    residence = serializers.BooleanField()
    office = serializers.BooleanField()
    last_viewed_at = serializers.DateTimeField(allow_null=True)


class ChannelSerializer(RenderedSerializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    value = serializers.CharField()
    primary = serializers.BooleanField()
    verified = serializers.BooleanField()
    subscribed = serializers.BooleanField()
    meta = ChannelMetaOutputSerializer(source="*")


class CustomerSerializer(CustomerSummarySerializer):
    """The whole customer: what a single customer view shows. Renders a customer document."""

    def get_fields(self):
        return {
            **super().get_fields(),
            **api_fields([field for field in CUSTOMER_FIELDS if not field.summary]),
            "source_accounts": SourceAccountSerializer(many=True),
            "channels": ChannelSerializer(many=True),
            "enrollments": EnrollmentSerializer(many=True),
            "cards": CardSerializer(many=True),
        }


class CustomerResultSerializer(serializers.Serializer):
    customer = CustomerSerializer()
    created = serializers.BooleanField()
    warnings = WarningSerializer(many=True)
    side_effects = SideEffectSerializer(many=True)


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(["created", "updated", "unchanged", "failed"])
    id = serializers.CharField(allow_null=True)
    errors = BatchItemErrorSerializer(many=True)


class BatchReplySerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)


class ExtendedFieldSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    data_type = serializers.ChoiceField(ExtendedFieldType.choices)
    allowed_values = serializers.ListField(child=serializers.CharField())
    scope = serializers.ChoiceField(ExtendedFieldScope.choices)
    is_global = serializers.SerializerMethodField()

    def get_is_global(self, definition) -> bool:
        return definition.organization_id is None


class ExtendedFieldInputSerializer(InputSerializer):
    # The service's rule, stated here so that the schema carries it as a pattern.
    name = serializers.CharField(
        max_length=64,
        validators=[RegexValidator(FIELD_NAME, EXTENDED_FIELD_NAME_RULE)],
    )
    data_type = serializers.ChoiceField(ExtendedFieldType.choices)
    allowed_values = serializers.ListField(child=serializers.CharField(), required=False)
    scope = serializers.ChoiceField(ExtendedFieldScope.choices, default=ExtendedFieldScope.CUSTOMER)


class ExtendedFieldPatchSerializer(InputSerializer):
    allowed_values = serializers.ListField(child=serializers.CharField(), required=False)
