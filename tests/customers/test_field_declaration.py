"""The layers that list the customer's fields themselves hold to their one declaration
(customers/fields.py): a field declared there and missing from a layer fails here, and so does
a field a layer has that is not declared."""

import dataclasses
import datetime as dt

import pytest
from django.contrib.admin import site
from django.contrib.admin.utils import flatten_fieldsets
from django.db import models

from customers import inputs, validation
from customers.api.serializers import (
    CustomerCreateSerializer,
    CustomerSerializer,
    CustomerSummarySerializer,
    CustomerUpdateSerializer,
)
from customers.fields import (
    CUSTOMER_FIELDS,
    ERASED,
    EXPORTED_FIELDS,
    FILE_FIELDS,
    Kind,
)
from customers.membership import closing, merge
from customers.membership.documents import customer_document, export_documents
from customers.models import Customer
from customers.services import writer
from customers.transfer import columns
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory, StatusLabelFactory

# The customer's own record, not fields of its profile: its keys, tenancy, merging, erasure,
# times and import bookkeeping.
RECORD_FIELDS = {
    "id",
    "organization",
    "public_id",
    "merged_into",
    "erased_at",
    "created_at",
    "updated_at",
    "import_digest",
    "imported_at",
    "import_run",
}
MODEL_KINDS = {
    Kind.TEXT: (models.CharField, models.TextField),
    Kind.OPTIONAL_TEXT: models.CharField,
    Kind.FLAG: models.BooleanField,
    Kind.DATE: models.DateField,
    Kind.CHOICE: models.CharField,
    Kind.REFERENCE: models.ForeignKey,
    Kind.JSON: models.JSONField,
}
INPUT_FIELDS = [field for field in CUSTOMER_FIELDS if field.input_name]
INPUT_NAMES = {field.input_name for field in INPUT_FIELDS}
CHILDREN = ("source_accounts", "channels", "enrollments", "cards")


def test_each_field_is_declared_once():
    names = [field.name for field in CUSTOMER_FIELDS]
    assert len(names) == len(set(names))
    assert len({field.model_field for field in CUSTOMER_FIELDS}) == len(names)


def test_the_declaration_is_the_models_profile_fields():
    profile = {field.name for field in Customer._meta.concrete_fields} - RECORD_FIELDS
    assert {field.model_field for field in CUSTOMER_FIELDS} == profile


@pytest.mark.parametrize("field", CUSTOMER_FIELDS, ids=lambda field: field.name)
def test_each_fields_kind_is_its_model_fields(field):
    model_field = Customer._meta.get_field(field.model_field)
    assert isinstance(model_field, MODEL_KINDS[field.kind])
    assert bool(model_field.choices) == (field.kind is Kind.CHOICE)
    if field.kind in (Kind.TEXT, Kind.OPTIONAL_TEXT):
        assert model_field.null == (field.kind is Kind.OPTIONAL_TEXT)


def test_customer_input_takes_the_declared_fields():
    assert inputs.PROFILE_FIELDS == INPUT_NAMES
    taken = {field.name for field in dataclasses.fields(inputs.CustomerInput)}
    # Beside the profile, registration takes a referrer's code and the customer's children.
    assert taken - INPUT_NAMES == {
        "referral_code",
        "source_accounts",
        "channels",
        "enrollments",
        "stamp_card_ids",
    }


def sample(field, label, store):
    samples = {
        "email": "someone@example.com",
        "phone": "+14155550100",
        "status_label": label.name,
        "store": store.code,
    }
    if field.name in samples:
        return samples[field.name]
    choices = Customer._meta.get_field(field.model_field).choices
    by_kind = {
        Kind.TEXT: "text",
        Kind.OPTIONAL_TEXT: "text",
        Kind.FLAG: True,
        Kind.DATE: dt.date(1990, 1, 2),
        Kind.CHOICE: choices[0][0] if choices else None,
        Kind.JSON: {},
    }
    return by_kind[field.kind]


def test_validation_cleans_every_declared_input(org):
    label = StatusLabelFactory(organization=org, status="active")
    store = StoreFactory(organization=org)
    given = {field.input_name: sample(field, label, store) for field in INPUT_FIELDS}
    given["status"] = "active"  # the label's
    cleaned = validation.clean_profile(org, given)
    assert set(cleaned) == {field.model_field for field in INPUT_FIELDS}


def test_a_merge_fills_the_declared_fields():
    merged = {field.model_field for field in CUSTOMER_FIELDS if field.merged}
    assert set(merge.MERGED_PROFILE_FIELDS) == merged


def test_an_erasure_empties_the_declared_personal_fields():
    personal = {
        field.model_field: ERASED[field.kind] for field in CUSTOMER_FIELDS if field.personal
    }
    assert personal == closing.PERSONAL_FIELDS


def test_an_import_writes_every_declared_input():
    columns = {Customer._meta.get_field(field.model_field).attname for field in INPUT_FIELDS}
    assert columns <= set(writer.CUSTOMER_COLUMNS)


def test_files_have_a_column_for_each_declared_field_in_order():
    positions = sorted(field.file_column for field in FILE_FIELDS)
    assert positions == list(range(len(FILE_FIELDS)))
    own = {field.name for field in EXPORTED_FIELDS if field.kind is not Kind.JSON}
    assert {field.name for field in FILE_FIELDS} == own
    header = columns.csv_export_header(["tier_code"], ["note"])
    assert header[: len(FILE_FIELDS)] == [field.name for field in FILE_FIELDS]
    assert not own & set(header[len(FILE_FIELDS) :])
    assert columns.CSV_COLUMNS[: len(FILE_FIELDS)] == tuple(field.name for field in FILE_FIELDS)


def api_keys(fields):
    return list(dict.fromkeys(field.api_key for field in fields))


def test_the_api_shows_the_declared_fields():
    summary = [field for field in CUSTOMER_FIELDS if field.summary]
    assert list(CustomerSummarySerializer().fields) == [
        "id",
        *api_keys(summary),
        "created_at",
        "updated_at",
    ]
    whole = list(CustomerSerializer().fields)
    rest = [field for field in CUSTOMER_FIELDS if not field.summary]
    assert whole == [*CustomerSummarySerializer().fields, *api_keys(rest), *CHILDREN]
    for field in CUSTOMER_FIELDS:
        if field.api_group:
            assert field.api_name in CustomerSerializer().fields[field.api_group].fields


@pytest.mark.parametrize("serializer", [CustomerUpdateSerializer, CustomerCreateSerializer])
def test_the_api_takes_the_declared_inputs(serializer):
    fields = serializer().fields
    taken = set(fields) - {*CHILDREN, "stamp_card_ids", "referral_code"}
    assert taken == set(api_keys(INPUT_FIELDS))
    for field in INPUT_FIELDS:
        if field.api_group:
            assert field.api_name in fields[field.api_group].fields


def test_the_admin_form_edits_every_declared_input():
    admin = site._registry[Customer]
    edited = set(flatten_fieldsets(admin.fieldsets)) - set(admin.readonly_fields)
    assert edited == {"organization", *(field.model_field for field in INPUT_FIELDS)}


def test_the_documents_hold_the_declared_fields(org):
    customer = CustomerFactory(organization=org)
    document = customer_document(organization=org, public_id=customer.public_id)
    record = {"id", "public_id", "created_at", "updated_at", "identifiers"}
    assert set(document) == {*(field.name for field in CUSTOMER_FIELDS), *record, *CHILDREN}
    [exported] = export_documents(organization=org)
    assert set(exported) == {*(field.name for field in EXPORTED_FIELDS), *CHILDREN}
