from django.urls import path

from customers.compat.jericommerce.views import IntegrationView

urlpatterns = [
    path(
        "v1/programs/<str:program_id>/integrations/api",
        IntegrationView.as_view(),
        name="jericommerce-integration",
    ),
]
