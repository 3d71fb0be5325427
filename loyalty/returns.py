"""Returns of purchases: what came back (lines, or an amount) and what each took back of the points
the purchase earned.

A return is written once per organization and external id. Like the ledgers, these rows are
append-only (a database trigger refuses updates): a later return is a new row. Related models are
named by label: loyalty.models imports this module, so that Django finds these models, before it
defines them.
"""

from django.db import models
from django.db.models import Q

from crm.models import Organization

from .transactions import AMOUNT, Transaction, TransactionLine


class Return(models.Model):
    """Goods of a purchase given back, or an amount of it refunded."""

    TENANT_PATH = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    purchase = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="returns")
    external_id = models.CharField(max_length=64, help_text="The seller's id of the return.")
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(
        **AMOUNT, help_text="What was given back: the amount refunded, or what the lines cost."
    )
    actor = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["purchase", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"], name="uniq_return_external_id"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="return_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return self.external_id


class ReturnLine(models.Model):
    """Units of one line of the purchase given back, and their share of what the line cost."""

    TENANT_PATH = "purchase_return__organization"

    purchase_return = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(TransactionLine, on_delete=models.CASCADE, related_name="returns")
    quantity = models.PositiveIntegerField()
    amount = models.DecimalField(**AMOUNT)

    class Meta:
        ordering = ["purchase_return", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_return", "line"], name="uniq_return_line"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="return_line_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.line.sku}"


class Clawback(models.Model):
    """What a return takes back of one award of its purchase: `points` due, and the ledger row
    (a cancellation or a clawback) that took them, if any took any. What the row did not take is
    the shortfall."""

    TENANT_PATH = "purchase_return__organization"

    purchase_return = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="clawbacks")
    award = models.ForeignKey(
        "loyalty.PointsTransaction", on_delete=models.CASCADE, related_name="+"
    )
    points = models.BigIntegerField()
    row = models.OneToOneField(
        "loyalty.PointsTransaction",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["purchase_return", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_return", "award"], name="uniq_clawback"),
            models.CheckConstraint(condition=Q(points__gte=1), name="clawback_points_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.points} of award {self.award_id}"

    @property
    def taken(self) -> int:
        return -self.row.points if self.row else 0

    @property
    def shortfall(self) -> int:
        return self.points - self.taken
