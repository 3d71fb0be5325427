"""The customer's profile fields, each declared once with everything the layers need of it.

The customer documents, the files customers are imported from and exported to, the API's
customer objects, the profile fields a door may set, and what a merge fills in and an erasure
empties are made from this declaration. The layers that must say more of a field than this (the
services' input dataclass and its validation) write it out themselves, and
tests/customers/test_field_declaration.py fails when they miss a declared field.
"""

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    TEXT = "text"  # "" when absent
    OPTIONAL_TEXT = "optional text"  # None when absent: unique values many customers lack
    FLAG = "flag"
    DATE = "date"
    CHOICE = "choice"
    REFERENCE = "reference"  # another row, by its name, code or public id; None when absent
    JSON = "json"  # an object of named values


# What erasing personal data leaves in a field of each kind.
ERASED = {Kind.TEXT: "", Kind.OPTIONAL_TEXT: None, Kind.FLAG: False, Kind.DATE: None, Kind.JSON: {}}


@dataclass(frozen=True)
class CustomerField:
    """A profile field: `name` in the customer documents, the files and the API."""

    name: str
    kind: Kind
    # The SQL that reads it in a document query, the customer's row being `c`.
    column: str = ""
    # The Customer model field holding it.
    model_field: str = ""
    # Its name in CustomerInput; "" for a field the services set alone.
    input_name: str = ""
    # In the API's customer objects: under this object, as `api_name`.
    api_group: str = ""
    api_name: str = ""
    # Shown in the API's list of customers, not only in a whole customer.
    summary: bool = False
    # Its place among the columns of import and export files; None when it has no column. Files
    # keep the columns' order of the files already written and imported, not the API's.
    file_column: int | None = None
    # Carried by the files (JSON fields in columns of their own, one per key).
    filed: bool = True
    # Emptied by an erasure.
    personal: bool = True
    # Filled in on a merge's survivor from the merged customer when the survivor lacks it.
    merged: bool = True

    def __post_init__(self) -> None:
        defaults = {
            "column": f"c.{self.name}",
            "model_field": self.name,
            # What the files carry, the services take; the rest they set alone.
            "input_name": self.name if self.filed else "",
            "api_name": self.name,
        }
        for attribute, default in defaults.items():
            if not getattr(self, attribute):
                object.__setattr__(self, attribute, default)

    @property
    def api_key(self) -> str:
        """Its key in the API's customer object: the field's own, or its group's."""
        return self.api_group or self.api_name


def address(name: str, api_name: str, file_column: int) -> CustomerField:
    return CustomerField(
        name, Kind.TEXT, api_group="address", api_name=api_name, file_column=file_column
    )


# In the order of the API's customer objects, the list's fields first.
CUSTOMER_FIELDS = (
    CustomerField("first_name", Kind.TEXT, summary=True, file_column=0),
    CustomerField("last_name", Kind.TEXT, summary=True, file_column=1),
    CustomerField("email", Kind.OPTIONAL_TEXT, summary=True, file_column=2),
    CustomerField("phone", Kind.OPTIONAL_TEXT, summary=True, file_column=3),
    CustomerField("external_id", Kind.OPTIONAL_TEXT, summary=True, file_column=5),
    CustomerField(
        "loyalty_type", Kind.CHOICE, summary=True, file_column=14, personal=False, merged=False
    ),
    CustomerField(
        "status", Kind.CHOICE, summary=True, file_column=15, personal=False, merged=False
    ),
    CustomerField("email_verified", Kind.FLAG, file_column=6, merged=False),
    CustomerField("birthday", Kind.DATE, file_column=4),
    address("address_line1", "line_1", 7),
    address("address_line2", "line_2", 8),
    address("city", "city", 9),
    address("state", "state", 10),
    address("postal_code", "postal_code", 11),
    address("country", "country", 12),
    CustomerField("description", Kind.TEXT, file_column=13),
    CustomerField(
        "status_label",
        Kind.REFERENCE,
        column="sl.name",
        file_column=16,
        personal=False,
        merged=False,
    ),
    CustomerField(
        "store",
        Kind.REFERENCE,
        column="st.code",
        model_field="registered_store",
        input_name="store_code",
        file_column=17,
        personal=False,
    ),
    CustomerField("referral_code", Kind.TEXT, filed=False, personal=False, merged=False),
    CustomerField(
        "referred_by",
        Kind.REFERENCE,
        column="rb.public_id",
        filed=False,
        personal=False,
    ),
    CustomerField("custom_fields", Kind.JSON, merged=False),
    CustomerField("extended_fields", Kind.JSON, merged=False),
)

# The columns of import and export files that are the customer's own fields, in their order.
FILE_FIELDS = tuple(
    sorted(
        (field for field in CUSTOMER_FIELDS if field.file_column is not None),
        key=lambda field: field.file_column,
    )
)
# What an export reads of each customer.
EXPORTED_FIELDS = tuple(field for field in CUSTOMER_FIELDS if field.filed)
