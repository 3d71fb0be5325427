"""The admin's customer list and search stay cheap however many customers there are: a fixed
number of queries per page, whatever the search matches, and no count past the paginator's cap.
(What they cost at 1,000,000 customers is measured by hand: bench/admin_bench.py.)"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.admin_paging import CappedCountPaginator
from tests.customers.factories import CustomerFactory, IdentifierFactory
from tests.loyalty.factories import CustomerCardFactory

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:customers_customer_changelist")
# Session, user, the staff member's permissions (theirs and their groups'), the capped count,
# the page.
MAX_QUERIES = 6


def matching_email(org, i):
    return CustomerFactory(organization=org, email=f"zoe.quarry{i}@example.com")


def matching_phone(org, i):
    return CustomerFactory(organization=org, phone=f"+9197777{i:05d}")


def matching_identifier(org, i):
    customer = CustomerFactory(organization=org)
    IdentifierFactory(source_account__customer=customer, value=f"loyalty-club-{i:04d}")
    return customer


def matching_card(org, i):
    customer = CustomerFactory(organization=org)
    CustomerCardFactory(customer=customer, code=f"QWXZ{i:04d}MNPR")
    return customer


SEARCHES = {
    "email fragment": (matching_email, "quarry"),
    "phone fragment": (matching_phone, "977770"),
    "identifier value": (matching_identifier, "loyalty-club"),
    "card code": (matching_card, "qwxz0"),
}


def page(client, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return response, queries


def test_the_list_runs_a_fixed_number_of_queries_and_no_full_count(
    staff_client, org, django_assert_max_num_queries
):
    CustomerFactory.create_batch(3, organization=org)
    _, few = page(staff_client)
    CustomerFactory.create_batch(30, organization=org)
    response, many = page(staff_client)

    assert len(many) == len(few)
    assert response.context["cl"].result_count == 33
    counts = [q["sql"] for q in many if "COUNT(" in q["sql"].upper()]
    assert counts
    assert all("LIMIT" in sql.upper() for sql in counts), counts
    with django_assert_max_num_queries(MAX_QUERIES):
        staff_client.get(CHANGELIST)


@pytest.mark.parametrize("kind", SEARCHES)
def test_each_kind_of_search_runs_a_fixed_number_of_queries(
    staff_client, org, kind, django_assert_max_num_queries
):
    make, term = SEARCHES[kind]
    CustomerFactory.create_batch(5, organization=org)  # matching nothing
    for i in range(3):
        make(org, i)
    response, few = page(staff_client, q=term)
    assert response.context["cl"].result_count == 3
    for i in range(3, 30):
        make(org, i)

    response, many = page(staff_client, q=term)

    assert response.context["cl"].result_count == 30
    assert len(many) == len(few)
    with django_assert_max_num_queries(MAX_QUERIES):
        staff_client.get(CHANGELIST, {"q": term})


def test_the_count_stops_at_the_cap(staff_client, org, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "CAP", 5)
    CustomerFactory.create_batch(8, organization=org)
    for i in range(3):
        matching_email(org, i)

    response, queries = page(staff_client)
    searched, _ = page(staff_client, q="quarry")

    assert "5+ customers" in response.content.decode()
    assert response.context["cl"].paginator.capped
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts
    assert all("LIMIT 6" in sql.upper() for sql in counts), counts
    page_text = searched.content.decode()
    assert "3 customers" in page_text
    assert "3+ customers" not in page_text
