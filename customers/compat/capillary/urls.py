from django.urls import path, re_path

from customers.compat.capillary.views import CustomersView

urlpatterns = [
    re_path(r"^v2/customers/?$", CustomersView.as_view(), name="capillary-customers"),
    path("v2/customers/<str:customer_id>", CustomersView.as_view(), name="capillary-customer"),
]
