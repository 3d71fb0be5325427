"""Each vendor's API under its own base URL; past the prefix, paths are the vendor's own."""

from django.urls import include, path

urlpatterns = [
    path("jericommerce/", include("customers.compat.jericommerce.urls")),
    path("capillary/", include("customers.compat.capillary.urls")),
    path("voucherify/", include("customers.compat.voucherify.urls")),
    path("leal/", include("customers.compat.leal.urls")),
]
