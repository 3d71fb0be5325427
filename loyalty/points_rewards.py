"""A programme's rewards bought with points, and the append-only record of each redemption.

Related models are named by label: loyalty.models imports this module, so that Django finds these
models, before it defines them.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import Customer


class PointsReward(models.Model):
    """A reward a member buys with a programme's points: it issues a coupon of its series."""

    TENANT_PATH = "program__organization"

    program = models.ForeignKey(
        "loyalty.Program", on_delete=models.CASCADE, related_name="points_rewards"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    points_cost = models.PositiveIntegerField()
    stock = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    per_customer_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many one customer may redeem; empty: no limit."
    )
    active_from = models.DateTimeField(null=True, blank=True)
    active_until = models.DateTimeField(null=True, blank=True)
    coupon_series = models.ForeignKey(
        "loyalty.CouponSeries", on_delete=models.PROTECT, related_name="+"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program", "points_cost", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gte=1), name="points_reward_cost"),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=0), name="points_reward_stock"
            ),
            models.CheckConstraint(
                condition=Q(per_customer_limit__isnull=True) | Q(per_customer_limit__gte=1),
                name="points_reward_per_customer_limit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.points_cost} points)"


class PointsRewardRedemption(models.Model):
    """One purchase of a points reward: what it cost and the coupon it issued."""

    TENANT_PATH = "customer__organization"

    reward = models.ForeignKey(PointsReward, on_delete=models.PROTECT, related_name="redemptions")
    enrollment = models.ForeignKey("loyalty.Enrollment", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    points = models.PositiveBigIntegerField()
    coupon = models.OneToOneField("loyalty.Coupon", on_delete=models.PROTECT, related_name="+")
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["customer", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.reward} for {self.points} points"
