"""Status labels say whether their customers may earn and spend: by their status unless told,
edited in the admin, on record, and set for the labels that existed before."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from crm.models import ConfigurationChange
from customers.choices import CustomerStatus
from customers.models import StatusLabel
from customers.services.status_labels import status_label_create, status_label_update
from tests.customers.factories import StatusLabelFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (CustomerStatus.ACTIVE, True),
        (CustomerStatus.PENDING_DELETION, True),
        (CustomerStatus.SUSPENDED, False),
        (CustomerStatus.FRAUD_SUSPECTED, False),
        (CustomerStatus.FRAUD_CONFIRMED, False),
    ],
)
def test_a_new_label_may_earn_and_spend_by_its_status_unless_told(org, status, allowed):
    label = status_label_create(organization=org, name="by-status", status=status)
    assert (label.may_earn, label.may_spend) == (allowed, allowed)
    told = status_label_create(
        organization=org, name="told", status=status, may_earn=True, may_spend=not allowed
    )
    assert (told.may_earn, told.may_spend) == (True, not allowed)


def test_a_label_updated_without_flags_follows_its_new_status_and_is_on_record(org):
    label = status_label_create(organization=org, name="vip", status=CustomerStatus.ACTIVE)
    status_label_update(
        label=label, name="vip", status=CustomerStatus.FRAUD_SUSPECTED, is_default=False
    )
    label.refresh_from_db()
    assert (label.may_earn, label.may_spend) == (False, False)
    change = ConfigurationChange.objects.filter(subject="status label").latest("pk")
    assert change.changes["may_earn"] == [True, False]
    assert change.changes["may_spend"] == [True, False]


def test_the_admin_edits_the_flags(staff_client, org):
    label = StatusLabelFactory(organization=org, name="vip")
    url = reverse("admin:customers_statuslabel_change", args=[label.pk])
    form = {"name": "vip", "status": "active", "may_earn": "on"}
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    label.refresh_from_db()
    assert (label.may_earn, label.may_spend) == (True, False)
    change = ConfigurationChange.objects.filter(subject="status label").latest("pk")
    assert change.changes == {"may_spend": [True, False]}


@pytest.mark.parametrize(
    ("status", "given", "expected"),
    [
        ("fraud_confirmed", "", False),
        ("active", "", True),
        ("suspended", "true", True),
        ("active", "false", False),
    ],
)
def test_a_label_added_in_the_admin_follows_its_status_unless_told(
    staff_client, org, status, given, expected
):
    form = {
        "organization": org.pk,
        "name": "new",
        "status": status,
        "earning": given,
        "spending": given,
    }
    response = staff_client.post(reverse("admin:customers_statuslabel_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    label = StatusLabel.objects.get(organization=org, name="new")
    assert (label.may_earn, label.may_spend) == (expected, expected)


def test_the_migration_blocks_the_existing_suspended_and_fraud_labels(org):
    migration = importlib.import_module("customers.migrations.0010_status_label_may_earn_spend")
    active = StatusLabelFactory(organization=org, status=CustomerStatus.ACTIVE)
    suspended = StatusLabelFactory(organization=org, status=CustomerStatus.SUSPENDED)
    fraud = StatusLabelFactory(organization=org, status=CustomerStatus.FRAUD_CONFIRMED)
    migration.block_by_status(apps, None)
    flags = dict(StatusLabel.objects.values_list("pk", "may_spend"))
    assert flags == {active.pk: True, suspended.pk: False, fraud.pk: False}
    assert not StatusLabel.objects.get(pk=fraud.pk).may_earn


def test_the_api_lists_creates_changes_and_deletes_labels_with_their_flags(api, org, other_org):
    StatusLabelFactory(organization=other_org, name="theirs")
    created = api.post(
        "/api/v1/status-labels/", {"name": "fraud", "status": "fraud_confirmed"}, format="json"
    )
    assert created.status_code == 201, created.content
    label = created.json()
    assert (label["may_earn"], label["may_spend"]) == (False, False)
    url = f"/api/v1/status-labels/{label['id']}/"
    renamed = api.patch(url, {"name": "fraud-1", "may_earn": True}, format="json").json()
    assert (renamed["name"], renamed["may_earn"], renamed["may_spend"]) == ("fraud-1", True, False)
    # A change of status alone sets the flags by the new status.
    active = api.patch(url, {"status": "active"}, format="json").json()
    assert (active["may_earn"], active["may_spend"]) == (True, True)
    assert [row["name"] for row in api.get("/api/v1/status-labels/").json()] == ["fraud-1"]
    change = ConfigurationChange.objects.filter(subject="status label").latest("pk")
    assert change.changes["may_spend"] == [False, True]
    assert api.delete(url).status_code == 204
    assert not StatusLabel.objects.filter(organization=org).exists()


def test_another_organizations_label_is_not_found(api, other_org):
    theirs = StatusLabelFactory(organization=other_org)
    url = f"/api/v1/status-labels/{theirs.pk}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"may_spend": False}, format="json").status_code == 404


def test_a_label_name_taken_is_a_conflict_naming_the_field(api, org):
    StatusLabelFactory(organization=org, name="VIP")

    response = api.post(
        "/api/v1/status-labels/", {"name": "vip", "status": "active"}, format="json"
    )

    assert response.status_code == 409
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("name", "status_label_taken")
    ]
