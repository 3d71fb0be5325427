from django.urls import path

from customers.compat.voucherify.views import CustomersView, CustomerView

urlpatterns = [
    path("v1/customers", CustomersView.as_view(), name="voucherify-customers"),
    path("v1/customers/<str:key>", CustomerView.as_view(), name="voucherify-customer"),
]
