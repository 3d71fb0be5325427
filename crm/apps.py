from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from .api import schema  # noqa: F401 - registers the API key scheme with the schema


class CrmAdminConfig(admin_apps.AdminConfig):
    """The admin, on the site that asks staff with a TOTP device for its code."""

    default = False  # crm's own configuration is CrmConfig
    default_site = "crm.admin_site.CrmAdminSite"
