"""Purchase API shapes: a purchase as sent (alone or in a batch), what it earned, a simulation,
earning rules."""

from rest_framework import serializers

from crm.api.fields import AmountField, DateTimeField
from crm.api.serializers import BatchItemErrorSerializer, InputSerializer
from customers.choices import IdentifierType, Source
from loyalty.api.serializers import SideEffectSerializer, WarningSerializer
from loyalty.choices import EarningKind
from loyalty.services.purchase_input import PurchaseItem

BATCH_SIZE = 100

# --- input -------------------------------------------------------------------------------------


class IdentifierRefSerializer(InputSerializer):
    type = serializers.ChoiceField(IdentifierType.choices)
    value = serializers.CharField()


class LineInputSerializer(InputSerializer):
    """A line of a purchase; the service checks its amounts against the currency."""

    sku = serializers.CharField(max_length=64)
    category = serializers.CharField(max_length=64, required=False)
    quantity = serializers.IntegerField(min_value=1)
    unit_price = AmountField()
    line_amount = AmountField(
        required=False,
        help_text="What the line cost after discounts; quantity x unit_price when not given.",
    )


class TransactionInputSerializer(InputSerializer):
    customer = serializers.CharField(
        required=False, help_text="The customer's public id; or give `identifier`."
    )
    identifier = IdentifierRefSerializer(required=False)
    external_id = serializers.CharField(help_text="The seller's id: a purchase is recorded once.")
    occurred_at = DateTimeField()
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217, e.g. EUR.")
    store = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="The store's code."
    )
    channel = serializers.ChoiceField(Source.choices, required=False, default=Source.INSTORE)
    lines = LineInputSerializer(many=True)

    def validate(self, data):
        if ("customer" in data) == ("identifier" in data):
            raise serializers.ValidationError({"customer": ["Give either customer or identifier."]})
        return data

    @staticmethod
    def to_item(data: dict) -> PurchaseItem:
        """The validated body as the services take it."""
        identifier = data.get("identifier")
        return PurchaseItem(
            external_id=data["external_id"],
            occurred_at=data["occurred_at"],
            currency=data["currency"],
            lines=data["lines"],
            store_code=data["store"],
            channel=data["channel"],
            customer_id=data.get("customer"),
            identifier=(identifier["type"], identifier["value"]) if identifier else None,
        )


class TransactionBatchSerializer(InputSerializer):
    transactions = serializers.ListField(
        child=serializers.DictField(),
        max_length=BATCH_SIZE,
        help_text=f"Up to {BATCH_SIZE} purchases, each shaped as for recording one.",
    )


class SimulateInputSerializer(InputSerializer):
    customer = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Whose tier, birthday and first purchase count; without one, none does.",
    )
    occurred_at = DateTimeField(required=False, allow_null=True, default=None)
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217, e.g. EUR.")
    store = serializers.CharField(required=False, allow_null=True, default=None)
    lines = LineInputSerializer(many=True)


# --- output ------------------------------------------------------------------------------------


class LineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    category = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=4, normalize_output=True)
    line_amount = serializers.DecimalField(max_digits=18, decimal_places=4, normalize_output=True)


class TransactionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    customer = serializers.CharField(source="customer.public_id")
    store = serializers.CharField(source="store.code", allow_null=True, default=None)
    occurred_at = serializers.DateTimeField()
    currency = serializers.CharField()
    total_amount = serializers.DecimalField(max_digits=18, decimal_places=4, normalize_output=True)
    channel = serializers.CharField()
    lines = LineSerializer(many=True, source="line_list")
    created_at = serializers.DateTimeField()


class AppliedRuleSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField(allow_null=True)
    points = serializers.IntegerField()
    reason = serializers.CharField()


class EarningSerializer(serializers.Serializer):
    program_id = serializers.IntegerField(source="enrollment.program_id")
    points = serializers.IntegerField()
    points_pending = serializers.IntegerField(
        help_text="Of the points, those pending for the programme's return window."
    )
    rules = AppliedRuleSerializer(many=True, source="rows")


class TierChangeSerializer(serializers.Serializer):
    program_id = serializers.IntegerField(source="enrollment.program_id")
    from_tier = serializers.IntegerField(source="from_tier.number", allow_null=True, default=None)
    to_tier = serializers.IntegerField(source="to_tier.number")
    tier_name = serializers.CharField(source="to_tier.name")


class PurchaseResultSerializer(serializers.Serializer):
    transaction = TransactionSerializer()
    points = serializers.IntegerField(help_text="What the purchase earned in all programmes.")
    points_active = serializers.SerializerMethodField(help_text="Of them, those spendable now.")
    points_pending = serializers.IntegerField(
        help_text="Of them, those pending for a return window."
    )
    earnings = EarningSerializer(many=True)
    tier_changes = TierChangeSerializer(many=True)
    side_effects = SideEffectSerializer(many=True)
    warnings = WarningSerializer(many=True)

    def get_points_active(self, result) -> int:
        return result.points - result.points_pending


class TransactionBatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(["created", "already_recorded", "failed"])
    http_status = serializers.IntegerField(
        help_text="What recording the purchase alone would have answered: 201, 200 or a 4xx."
    )
    result = PurchaseResultSerializer(
        allow_null=True, help_text="As recording the purchase alone answers; null when it failed."
    )
    errors = BatchItemErrorSerializer(many=True)


class TransactionBatchReplySerializer(serializers.Serializer):
    results = TransactionBatchResultSerializer(many=True)


class ContributionSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField()
    rule_name = serializers.CharField()
    kind = serializers.ChoiceField(EarningKind.choices)
    points = serializers.IntegerField(help_text="Negative for a cap: what it cut.")
    reason = serializers.CharField()


class SimulationSerializer(serializers.Serializer):
    program_id = serializers.IntegerField(source="program.pk")
    points = serializers.IntegerField()
    rules = ContributionSerializer(many=True, source="contributions")


class EarningRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(EarningKind.choices)
    parameters = serializers.DictField()
    priority = serializers.IntegerField()
    active_from = serializers.DateTimeField(allow_null=True)
    active_until = serializers.DateTimeField(allow_null=True)
    stores = serializers.SerializerMethodField(help_text="Store codes; none: every store.")
    created_at = serializers.DateTimeField()

    def get_stores(self, rule) -> list[str]:
        return [store.code for store in rule.stores.all()]
