from django.http import JsonResponse
from django.urls import path

from crm.config.urls import urlpatterns as product_urlpatterns
from customers.models import Customer


def plain_customer(request, pk: int):
    """The baseline: one customer by primary key, as a plain JsonResponse, no framework."""
    customer = Customer.objects.values(
        "public_id", "first_name", "last_name", "email", "phone", "status", "created_at"
    ).get(pk=pk)
    return JsonResponse(customer)


urlpatterns = [path("plain/customers/<int:pk>/", plain_customer), *product_urlpatterns]
