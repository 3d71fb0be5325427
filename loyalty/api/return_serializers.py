"""Return API shapes: a return as sent, what it took back, and a purchase with its returns."""

from rest_framework import serializers

from crm.api.fields import AmountField, DateTimeField
from crm.api.serializers import InputSerializer
from loyalty.choices import PointsKind
from loyalty.services.purchase_input import MAX_LINES

from .purchase_serializers import TierChangeSerializer, TransactionSerializer
from .serializers import SideEffectSerializer

# --- input -------------------------------------------------------------------------------------


class ReturnLineInputSerializer(InputSerializer):
    sku = serializers.CharField(max_length=64, help_text="The SKU of a line of the purchase.")
    quantity = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class ReturnInputSerializer(InputSerializer):
    """Either `lines` or `amount`, not both; the service checks them against the purchase."""

    external_id = serializers.CharField(help_text="The seller's id: a return is recorded once.")
    occurred_at = DateTimeField()
    lines = ReturnLineInputSerializer(
        many=True,
        required=False,
        min_length=1,
        max_length=MAX_LINES,
        help_text="The units given back, by SKU; or give `amount`.",
    )
    amount = AmountField(
        required=False, help_text="The amount refunded, as a decimal string; or give `lines`."
    )


# --- output ------------------------------------------------------------------------------------

MONEY = {"max_digits": 18, "decimal_places": 4, "normalize_output": True}


class ReturnLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="line.sku")
    quantity = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY, help_text="Its share of what the line cost.")


class ReturnSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    transaction_id = serializers.IntegerField(source="purchase_id")
    occurred_at = serializers.DateTimeField()
    amount = serializers.DecimalField(**MONEY, help_text="What was given back in all.")
    lines = ReturnLineSerializer(many=True, source="lines.all", help_text="Empty: by amount.")
    created_at = serializers.DateTimeField()


class TransactionDetailSerializer(TransactionSerializer):
    """A purchase with what its returns gave back."""

    returned_amount = serializers.DecimalField(**MONEY)
    returns = ReturnSerializer(many=True, source="return_list")


class ClawbackSerializer(serializers.Serializer):
    rule_id = serializers.IntegerField(source="award.rule_id")
    award_id = serializers.IntegerField(help_text="The purchase's ledger row it takes back of.")
    points = serializers.IntegerField(help_text="What the return takes back of the award.")
    taken = serializers.IntegerField(help_text="What the ledger row took.")
    kind = serializers.ChoiceField(
        [PointsKind.CANCEL, PointsKind.CLAWBACK],
        source="row.kind",
        allow_null=True,
        default=None,
        help_text="cancel: pending points; clawback: spendable ones; null: none taken.",
    )
    shortfall = serializers.IntegerField(help_text="What the clawback policy left untaken.")


class ProgramClawbackSerializer(serializers.Serializer):
    program_id = serializers.IntegerField()
    points = serializers.IntegerField(help_text="What the returned goods earned, in all.")
    cancelled = serializers.IntegerField(help_text="Of that, pending points cancelled.")
    clawed_back = serializers.IntegerField(help_text="Of that, spendable points taken back.")
    shortfall = serializers.IntegerField(help_text="Of that, what was not taken.")
    rules = ClawbackSerializer(many=True, source="clawbacks")


class ReturnResultSerializer(serializers.Serializer):
    return_ = ReturnSerializer(source="purchase_return")
    programs = ProgramClawbackSerializer(many=True)
    tier_changes = TierChangeSerializer(many=True)
    side_effects = SideEffectSerializer(many=True)

    def get_fields(self):
        # `return` is a Python keyword: the field is declared as return_.
        return {
            ("return" if name == "return_" else name): field
            for name, field in super().get_fields().items()
        }
