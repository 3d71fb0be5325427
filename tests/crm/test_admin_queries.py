"""Every list page of the admin runs a fixed number of queries, however many rows it shows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.crm.factories import OrganizationFactory
from tests.crm.test_admin_scoping import admin_urls, tenant_data

pytestmark = pytest.mark.django_db

# Session, user, the page's count and rows, its filters' choices: none of them per row.
MAX_QUERIES = 12


def queries_of_each_list(client) -> dict[str, int]:
    """The queries each list page the user may see ran (the others answer 403)."""
    counts = {}
    for _, _, url in admin_urls():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code in (200, 403), url
        if response.status_code == 200:
            counts[url] = len(queries)
    return counts


def test_every_admin_list_runs_the_same_queries_for_one_row_as_for_many(superuser_client):
    # A superuser's lists show every organization's rows and their organization column too.
    tenant_data(OrganizationFactory(slug="first"), "first")
    few = queries_of_each_list(superuser_client)
    for mark in ("second", "third", "fourth"):
        tenant_data(OrganizationFactory(slug=mark), mark)

    many = queries_of_each_list(superuser_client)

    assert many == few
    assert len(many) == len(list(admin_urls()))
    assert max(many.values()) <= MAX_QUERIES, many


def test_every_admin_list_runs_the_same_queries_for_staff(staff_client, org):
    tenant_data(org, "first")
    few = queries_of_each_list(staff_client)
    for mark in ("second", "third"):
        tenant_data(org, mark)

    many = queries_of_each_list(staff_client)

    assert many == few
    assert "/admin/customers/customer/" in many
    assert max(many.values()) <= MAX_QUERIES, many
