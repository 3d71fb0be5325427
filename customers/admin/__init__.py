# Django's admin autodiscovery imports this package: importing each module registers its admins.
from customers.admin import customer, extended_fields, identities, status_labels  # noqa: F401
