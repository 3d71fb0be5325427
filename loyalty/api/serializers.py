"""Loyalty API shapes: parse requests into service arguments, render results."""

import dataclasses

from rest_framework import serializers

from crm.api.fields import DateTimeField, id_field
from crm.api.rendering import iso
from crm.api.serializers import InputSerializer
from loyalty.choices import CardStatus, ClawbackPolicy, PointsKind, StripType, TierBasis, TierWindow
from loyalty.links import apple_wallet_url, card_page_url, google_wallet_url
from loyalty.selectors import CardView, card_view
from loyalty.services.points import MAX_POINTS
from loyalty.services.stamps import MAX_STAMPS_PER_CALL

# --- output ------------------------------------------------------------------------------------


class WarningSerializer(serializers.Serializer):
    """Something an operation did not do, or did otherwise than asked, though it succeeded."""

    code = serializers.CharField()
    message = serializers.CharField()


class SideEffectSerializer(serializers.Serializer):
    """What an operation did besides its main write; `type` says which fields are present."""

    type = serializers.ChoiceField(["points", "stamps", "reward", "coupon", "tier"])
    customer_id = serializers.CharField(required=False, help_text="points: who received them")
    program_id = serializers.IntegerField(required=False)
    points = serializers.IntegerField(required=False)
    reason = serializers.CharField(required=False)
    card_code = serializers.CharField(required=False)
    stamps = serializers.IntegerField(required=False)
    total = serializers.IntegerField(required=False)
    reward_id = serializers.IntegerField(required=False)
    reward_name = serializers.CharField(required=False)
    stamp_cost = serializers.IntegerField(required=False)
    coupon_id = serializers.IntegerField(required=False)
    code = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    discount_code = serializers.CharField(required=False)
    valid_till = serializers.DateTimeField(required=False, allow_null=True)
    from_tier = serializers.IntegerField(required=False, allow_null=True)
    to_tier = serializers.IntegerField(required=False)
    tier_name = serializers.CharField(required=False)

    def to_representation(self, instance):
        data = dataclasses.asdict(instance)
        if "valid_till" in data:
            data["valid_till"] = iso(data["valid_till"])
        return data


class RewardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    stamp_cost = serializers.IntegerField()
    active = serializers.BooleanField()


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CardSerializer(serializers.Serializer):
    """A customer card with its stamp progress and links."""

    code = serializers.CharField(help_text="The barcode value.")
    stamp_card = NamedRefSerializer()
    stamps = serializers.IntegerField()
    status = serializers.ChoiceField(CardStatus.choices)
    goal = serializers.IntegerField(help_text="The stamps the dearest active reward costs.")
    rewards_available = RewardSerializer(many=True)
    next_reward = RewardSerializer(allow_null=True)
    page_url = serializers.URLField()
    apple_wallet_url = serializers.URLField()
    google_wallet_url = serializers.URLField()
    created_at = serializers.DateTimeField()

    def to_representation(self, card):
        if not isinstance(card, CardView):
            card = card_view(card)
        progress = card.progress

        def reward(r):
            return {"id": r.pk, "name": r.name, "stamp_cost": r.stamp_cost, "active": True}

        return {
            "code": card.code,
            "stamp_card": {"id": card.stamp_card_id, "name": card.stamp_card_name},
            "stamps": card.stamps,
            "status": card.status,
            "goal": progress.goal,
            "rewards_available": [reward(r) for r in progress.redeemable],
            "next_reward": reward(progress.next_reward) if progress.next_reward else None,
            "page_url": card_page_url(card),
            "apple_wallet_url": apple_wallet_url(card),
            "google_wallet_url": google_wallet_url(card),
            "created_at": iso(card.created_at),
        }


class TierRefSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField()


class EnrollmentSerializer(serializers.Serializer):
    program = NamedRefSerializer()
    tier = TierRefSerializer(allow_null=True)
    tier_expires_at = serializers.DateTimeField(allow_null=True)
    points_balance = serializers.IntegerField(
        help_text="What may be spent; below zero, a debt that later points repay first."
    )
    points_pending = serializers.IntegerField(
        help_text="Purchase points within their return window, not yet spendable."
    )
    points_earned = serializers.IntegerField()
    enrolled_at = serializers.DateTimeField()

    def to_representation(self, enrollment):
        """An enrolment of a customer document."""
        tier_number = enrollment["tier_number"]
        return {
            "program": {"id": enrollment["program_id"], "name": enrollment["program_name"]},
            "tier": (
                {"number": tier_number, "name": enrollment["tier_name"]} if tier_number else None
            ),
            "tier_expires_at": iso(enrollment["tier_expires_at"]),
            "points_balance": enrollment["points_balance"],
            "points_pending": enrollment["points_pending"],
            "points_earned": enrollment["points_earned"],
            "enrolled_at": iso(enrollment["enrolled_at"]),
        }


class PointsTransactionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    program_id = serializers.IntegerField(source="enrollment.program_id")
    kind = serializers.ChoiceField(PointsKind.choices)
    points = serializers.IntegerField()
    reason = serializers.CharField()
    reference = serializers.CharField(allow_null=True)
    activates_at = serializers.DateTimeField(
        allow_null=True, help_text="An award pending until then (its purchase's return window)."
    )
    expires_at = serializers.DateTimeField(allow_null=True)
    actor = serializers.CharField()
    created_at = serializers.DateTimeField()


class PointsResultSerializer(serializers.Serializer):
    transaction = PointsTransactionSerializer()
    balance = serializers.IntegerField(help_text="What may be spent now.")
    pending = serializers.IntegerField(help_text="Pending points, not yet spendable.")
    side_effects = SideEffectSerializer(many=True)


class CardResultSerializer(serializers.Serializer):
    card = CardSerializer()
    side_effects = SideEffectSerializer(many=True)


class CardIssuedSerializer(CardResultSerializer):
    warnings = WarningSerializer(many=True)


class DeliverySerializer(serializers.Serializer):
    channel = serializers.CharField()
    address = serializers.CharField()
    status = serializers.CharField()
    detail = serializers.CharField()
    created_at = serializers.DateTimeField()


class SendLinksResultSerializer(serializers.Serializer):
    deliveries = DeliverySerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


class TierSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField()
    points_threshold = serializers.IntegerField(allow_null=True)
    spend_threshold = serializers.DecimalField(
        max_digits=18, decimal_places=4, normalize_output=True, allow_null=True
    )


class ProgramSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    active = serializers.BooleanField()
    welcome_points = serializers.IntegerField()
    welcome_coupon_series_id = serializers.IntegerField(allow_null=True)
    referrer_points = serializers.IntegerField()
    referee_points = serializers.IntegerField()
    tier_basis = serializers.ChoiceField(TierBasis.choices)
    tier_window = serializers.ChoiceField(TierWindow.choices)
    tier_period_months = serializers.IntegerField(
        help_text="How long a tier reached or renewed lasts, with the rolling window."
    )
    pending_days = serializers.IntegerField()
    points_valid_days = serializers.IntegerField(allow_null=True)
    clawback_policy = serializers.ChoiceField(ClawbackPolicy.choices)
    tiers = TierSerializer(many=True, source="tiers.all")


class StampCardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    store = serializers.CharField(source="store.code", allow_null=True)
    initial_stamps = serializers.IntegerField()
    active = serializers.BooleanField()
    card_color = serializers.CharField(help_text="#RRGGBB, as are the other colours.")
    text_color = serializers.CharField()
    stamp_color = serializers.CharField()
    stamp_background_color = serializers.CharField()
    stamp_icon = serializers.CharField()
    header_text = serializers.CharField()
    strip_type = serializers.ChoiceField(StripType.choices)
    strip_color = serializers.CharField()
    strip_preset = serializers.CharField()
    strip_opacity = serializers.IntegerField(help_text="0 to 100.")
    show_member_field = serializers.BooleanField()
    show_stamps_to_reward_field = serializers.BooleanField()
    auxiliary_fields = serializers.ListField(child=serializers.CharField())
    rewards = RewardSerializer(many=True, source="rewards.all")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    series_id = serializers.IntegerField()
    description = serializers.CharField(source="series.description")
    discount_code = serializers.CharField(source="series.discount_code")
    customer_id = serializers.CharField(source="customer.public_id")
    issued_at = serializers.DateTimeField()
    valid_till = serializers.DateTimeField(allow_null=True)
    redeemed_at = serializers.DateTimeField(allow_null=True)


# --- input -------------------------------------------------------------------------------------


class PointsInputSerializer(InputSerializer):
    program_id = id_field()
    action = serializers.ChoiceField(["award", "deduct"])
    points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    reference = serializers.CharField(required=False, allow_null=True, default=None, max_length=128)
    expires_at = DateTimeField(required=False, allow_null=True, default=None)


class CardEnrollInputSerializer(InputSerializer):
    stamp_card_id = id_field()


class StampsInputSerializer(InputSerializer):
    stamps = serializers.IntegerField(min_value=1, max_value=MAX_STAMPS_PER_CALL)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class RedeemInputSerializer(InputSerializer):
    reward_id = id_field()


class CouponIssueInputSerializer(InputSerializer):
    series_id = id_field()
    customer_id = serializers.CharField()
