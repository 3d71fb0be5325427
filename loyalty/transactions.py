"""Purchases (transactions with their lines) and the programme's rules for earning points on them.

A purchase is written once per organization and external id; the points it earned are ledger rows
that point back at it and at the rule that gave them. What its returns (loyalty.returns) took back
is kept on it and on its lines, and the database holds that no more is returned than was bought.
"""

from django.db import models
from django.db.models import F, Q

from crm.db import choices_check
from crm.models import Organization, Store
from customers.choices import Source
from customers.models import Customer

from .choices import EarningKind

AMOUNT = {"max_digits": 18, "decimal_places": 4}


class Transaction(models.Model):
    """A purchase by a customer; amounts keep no more decimals than its currency has."""

    TENANT_PATH = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # Deleting a customer deletes their purchases with the points these earned.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="purchases")
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, null=True, blank=True, related_name="purchases"
    )
    external_id = models.CharField(max_length=64, help_text="The seller's id of the purchase.")
    occurred_at = models.DateTimeField()
    currency = models.CharField(max_length=3, help_text="ISO 4217, e.g. EUR.")
    total_amount = models.DecimalField(**AMOUNT)
    # What its returns gave back, in all; changed only with the return that adds to it.
    returned_amount = models.DecimalField(**AMOUNT, default=0, editable=False)
    channel = models.CharField(max_length=16, choices=Source.choices)
    actor = models.CharField(max_length=200)
    # Kept so that the purchase sent again answers as it first did.
    earning_withheld = models.CharField(
        max_length=255, blank=True, help_text="Why the purchase earned nothing, if it was withheld."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"], name="uniq_transaction_external_id"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="transaction_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(total_amount__gte=0), name="transaction_total_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(returned_amount__gte=0) & Q(returned_amount__lte=F("total_amount")),
                name="transaction_returned_within_total",
            ),
            choices_check("channel", Source, "transaction_channel_valid"),
        ]
        indexes = [models.Index(fields=["customer", "occurred_at"], name="transaction_by_customer")]

    def __str__(self) -> str:
        return self.external_id


class TransactionLine(models.Model):
    TENANT_PATH = "transaction__organization"

    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    category = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**AMOUNT)
    line_amount = models.DecimalField(**AMOUNT, help_text="What the line cost, after discounts.")
    returned_quantity = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["transaction", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(returned_quantity__lte=F("quantity")),
                name="line_returned_within_bought",
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(line_amount__gte=0),
                name="line_amounts_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class EarningRule(models.Model):
    """One way a programme's members earn points on a purchase; `parameters` depend on `kind`
    (loyalty.services.earning_rules checks them)."""

    TENANT_PATH = "program__organization"

    program = models.ForeignKey(
        "loyalty.Program", on_delete=models.CASCADE, related_name="earning_rules"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=EarningKind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Within a stage, lower numbers apply first."
    )
    active_from = models.DateTimeField(null=True, blank=True)
    active_until = models.DateTimeField(null=True, blank=True)
    stores = models.ManyToManyField(
        Store, blank=True, related_name="+", help_text="None: the rule applies in every store."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "priority", "pk"]
        constraints = [
            choices_check("kind", EarningKind, "earning_rule_kind_valid"),
            models.CheckConstraint(
                condition=Q(active_from__isnull=True)
                | Q(active_until__isnull=True)
                | Q(active_until__gt=models.F("active_from")),
                name="earning_rule_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name
