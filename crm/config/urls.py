from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from crm.health import healthz

admin.site.site_header = "Loyalty CRM"
admin.site.site_title = "Loyalty CRM"
admin.site.index_title = "Member care"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("crm.config.api_urls")),
    path("compat/", include("customers.compat.urls")),
    path("", include("loyalty.urls")),
]
