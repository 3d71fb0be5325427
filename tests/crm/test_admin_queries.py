"""Every list page of the admin runs a fixed number of queries, however many rows it shows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.admin_paging import CappedCountPaginator, LargeTableAdminMixin
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


def test_the_lists_of_large_tables_count_no_further_than_the_cap(
    superuser_client, org, other_org, monkeypatch
):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 1)
    tenant_data(org, "first")
    tenant_data(other_org, "second")
    large = [
        (model, url)
        for model, model_admin, url in admin_urls()
        if isinstance(model_admin, LargeTableAdminMixin)
    ]
    assert {model._meta.model_name for model, _ in large} >= {
        "customer",
        "identifier",
        "pointstransaction",
        "stamptransaction",
    }
    for model, url in large:
        page = superuser_client.get(url).content.decode()
        assert f"1+ {model._meta.verbose_name_plural}" in page, url
