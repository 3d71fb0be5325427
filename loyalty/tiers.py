"""A programme's tiers, and the append-only record of every change of an enrolment's tier.

Related models are named by label: loyalty.models imports this module, so that Django finds these
models, before it defines them.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.db import choices_check

from .choices import TierChangeReason
from .transactions import AMOUNT


class Tier(models.Model):
    TENANT_PATH = "program__organization"

    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="tiers")
    number = models.PositiveSmallIntegerField(help_text="1 is the lowest tier.")
    name = models.CharField(max_length=100)
    points_threshold = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Members whose points earned reach this move up to the tier automatically "
        "(in a programme whose tiers qualify on points).",
    )
    spend_threshold = models.DecimalField(
        **AMOUNT,
        null=True,
        blank=True,
        help_text="Members whose purchases reach this move up to the tier automatically "
        "(in a programme whose tiers qualify on spend).",
    )

    class Meta:
        ordering = ["program", "number"]
        constraints = [
            models.UniqueConstraint(fields=["program", "number"], name="uniq_tier_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="tier_number_from_one"),
            models.CheckConstraint(
                condition=Q(spend_threshold__isnull=True) | Q(spend_threshold__gte=0),
                name="tier_spend_threshold_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number}. {self.name}"


class TierChange(models.Model):
    """Every change of an enrolment's tier, with why and by whom (append-only)."""

    TENANT_PATH = "enrollment__customer__organization"

    enrollment = models.ForeignKey(
        "loyalty.Enrollment", on_delete=models.CASCADE, related_name="tier_changes"
    )
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tier_expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=10, choices=TierChangeReason.choices)
    # A purchase goes only together with the rows it wrote (a customer's deletion).
    purchase = models.ForeignKey(
        "loyalty.Transaction", on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    purchase_return = models.ForeignKey(
        "loyalty.Return", on_delete=models.RESTRICT, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["enrollment", "created_at", "pk"]
        constraints = [choices_check("reason", TierChangeReason, "tier_change_reason_valid")]

    def __str__(self) -> str:
        return f"{self.from_tier} → {self.to_tier}"
