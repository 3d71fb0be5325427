import json

from django.db import transaction
from django.db.models import F
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from crm.config.urls import urlpatterns as product_urlpatterns
from customers.models import AuditEvent, Customer
from loyalty.models import Enrollment, PointsLot, PointsTransaction
from loyalty.transactions import Transaction, TransactionLine


def plain_customer(request, pk: int):
    """The baseline: one customer by primary key, as a plain JsonResponse, no framework."""
    customer = Customer.objects.values(
        "public_id", "first_name", "last_name", "email", "phone", "status", "created_at"
    ).get(pk=pk)
    return JsonResponse(customer)


def lines_of(purchase: Transaction, lines: list[dict]) -> list[TransactionLine]:
    return [
        TransactionLine(
            transaction=purchase,
            sku=line["sku"],
            category=line["category"],
            quantity=line["quantity"],
            unit_price=line["unit_price"],
            line_amount=float(line["unit_price"]) * line["quantity"],
        )
        for line in lines
    ]


@csrf_exempt
def plain_transaction(request):
    """The baseline: the purchase and its lines inserted as sent, with no checks, no rules and
    no authentication."""
    body = json.loads(request.body)
    lines = body["lines"]
    purchase = Transaction.objects.create(
        organization_id=body["organization"],
        customer_id=int(body["customer"]),
        external_id=body["external_id"],
        occurred_at=body["occurred_at"],
        currency=body["currency"],
        total_amount=sum(float(line["unit_price"]) * line["quantity"] for line in lines),
        channel="INSTORE",
        actor="plain",
    )
    TransactionLine.objects.bulk_create(lines_of(purchase, lines))
    return JsonResponse({"id": purchase.pk, "external_id": purchase.external_id}, status=201)


@csrf_exempt
def plain_transaction_earning(request):
    """The second baseline: in one transaction, the rows a purchase that earns by three rules
    writes (the purchase and its lines, three ledger rows with their lots and audit events, the
    enrolment's balance), with the points reckoned in one line and nothing checked."""
    body = json.loads(request.body)
    lines = body["lines"]
    total = sum(float(line["unit_price"]) * line["quantity"] for line in lines)
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update()
            .select_related("customer")
            .get(customer_id=int(body["customer"]), program_id=body["program"])
        )
        purchase = Transaction.objects.create(
            organization_id=body["organization"],
            customer_id=enrollment.customer_id,
            external_id=body["external_id"],
            occurred_at=body["occurred_at"],
            currency=body["currency"],
            total_amount=total,
            channel="INSTORE",
            actor="plain",
        )
        TransactionLine.objects.bulk_create(lines_of(purchase, lines))
        points = [int(total), int(total) // 2, int(total) // 4]
        rows = PointsTransaction.objects.bulk_create(
            PointsTransaction(
                enrollment=enrollment,
                kind="award",
                points=each,
                reason="plain",
                purchase=purchase,
                actor="plain",
            )
            for each in points
        )
        PointsLot.objects.bulk_create(
            PointsLot(enrollment=enrollment, award=row, points=row.points, remaining=row.points)
            for row in rows
        )
        AuditEvent.objects.bulk_create(
            AuditEvent(
                organization_id=body["organization"],
                customer_id=enrollment.customer_id,
                customer_public_id=enrollment.customer.public_id,
                subject="points",
                action="award",
                changes={"points": [0, each]},
                actor="plain",
            )
            for each in points
        )
        Enrollment.objects.filter(pk=enrollment.pk).update(
            points_balance=F("points_balance") + sum(points),
            points_earned=F("points_earned") + sum(points),
        )
    return JsonResponse({"id": purchase.pk, "points": sum(points)}, status=201)


urlpatterns = [
    path("plain/customers/<int:pk>/", plain_customer),
    path("plain/transactions/", plain_transaction),
    path("plain/transactions-earning/", plain_transaction_earning),
    *product_urlpatterns,
]
