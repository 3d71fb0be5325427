import json

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from crm.config.urls import urlpatterns as product_urlpatterns
from customers.models import Customer
from loyalty.transactions import Transaction, TransactionLine


def plain_customer(request, pk: int):
    """The baseline: one customer by primary key, as a plain JsonResponse, no framework."""
    customer = Customer.objects.values(
        "public_id", "first_name", "last_name", "email", "phone", "status", "created_at"
    ).get(pk=pk)
    return JsonResponse(customer)


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
    TransactionLine.objects.bulk_create(
        TransactionLine(
            transaction=purchase,
            sku=line["sku"],
            category=line["category"],
            quantity=line["quantity"],
            unit_price=line["unit_price"],
            line_amount=float(line["unit_price"]) * line["quantity"],
        )
        for line in lines
    )
    return JsonResponse({"id": purchase.pk, "external_id": purchase.external_id}, status=201)


urlpatterns = [
    path("plain/customers/<int:pk>/", plain_customer),
    path("plain/transactions/", plain_transaction),
    *product_urlpatterns,
]
