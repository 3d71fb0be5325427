from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from .api import schema  # noqa: F401 - registers the API key scheme with the schema
