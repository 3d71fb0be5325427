"""The customer 360 page's purchases: listed with the points each earned, in a fixed number of
queries; a supervisor adds a purchase that did not reach the CRM, through the purchase service."""

import html
import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.actors import Actor
from customers.models import AuditEvent
from loyalty.models import PointsTransaction
from loyalty.services.purchases import transaction_record
from loyalty.services.returns import return_record
from loyalty.transactions import Transaction
from tests.crm.factories import StaffFactory, StoreFactory
from tests.customers.factories import CustomerFactory, StatusLabelFactory
from tests.loyalty.factories import (
    EarningRuleFactory,
    EnrollmentFactory,
    ProgramFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

SYSTEM = Actor("system")


def member_of(group, org, client, username):
    user = StaffFactory(username=username, organization=org, all_permissions=False)
    user.user_permissions.clear()
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


@pytest.fixture
def agent(client, org):
    member_of("agent", org, client, "agent")
    return client


@pytest.fixture
def supervisor(client, org):
    member_of("supervisor", org, client, "supervisor")
    return client


@pytest.fixture
def club(org):
    """Club, of docs/loyalty.md's worked example: 1 point per 10.00, shoes x2, Gold x1.5."""
    program = ProgramFactory(organization=org, name="Club")
    TierFactory(program=program, number=1, name="Silver")
    TierFactory(program=program, number=2, name="Gold")
    EarningRuleFactory(
        program=program,
        name="Base",
        parameters={"points": 1, "per": "10.00", "rounding": "down"},
    )
    EarningRuleFactory(
        program=program,
        name="Shoes double",
        kind="category_multiplier",
        parameters={"category": "shoes", "multiplier": "2"},
    )
    EarningRuleFactory(
        program=program,
        name="Gold bonus",
        kind="tier_multiplier",
        parameters={"tier": 2, "multiplier": "1.5"},
    )
    return program


def overview(customer):
    return reverse("admin:customers_customer_360", args=[customer.pk])


def add_url(customer):
    return reverse("admin:customers_customer_purchase", args=[customer.pk])


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


def buy(customer, external_id, *, price="10.00", category="", store=None, at=None):
    return transaction_record(
        organization=customer.organization,
        customer=customer,
        store_code=store.code if store else None,
        external_id=external_id,
        occurred_at=at or "2026-06-15T12:00:00Z",
        currency="EUR",
        lines=[{"sku": "SKU-1", "category": category, "quantity": 1, "unit_price": price}],
        channel="INSTORE",
        actor=SYSTEM,
    )


def purchase_rows(page: str) -> dict[str, str]:
    """{external id: the row's text} of the 360 page's purchases."""
    rows = re.findall(r'<tr data-purchase="([^"]+)">(.*?)</tr>', page, re.S)
    return {
        external_id: html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)))
        for external_id, row in rows
    }


def points_of(page: str) -> dict[str, str]:
    rows = re.findall(
        r'<tr data-purchase="([^"]+)">.*?<td class="number points-earned">(\d+)</td>', page, re.S
    )
    return dict(rows)


def test_the_360_page_lists_purchases_with_the_points_each_earned(agent, org, club):
    customer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=customer, program=club, tier=club.tiers.get(number=2))
    # In a second programme a purchase earns too: its points are the sum of both.
    EarningRuleFactory(
        program=EnrollmentFactory(customer=customer).program,
        parameters={"points": 1, "per": "100", "rounding": "down"},
    )
    store = StoreFactory(organization=org, name="Flagship")
    buy(customer, "till-7-000123", price="1200.00", category="shoes", store=store)
    buy(customer, "till-7-000124", price="5.00", at="2026-06-16T12:00:00Z")

    page = agent.get(overview(customer)).content.decode()

    rows = purchase_rows(page)
    assert list(rows) == ["till-7-000124", "till-7-000123"]  # newest first
    assert "2026-06-15" in rows["till-7-000123"]
    assert "Flagship" in rows["till-7-000123"]
    assert "1200.00 EUR" in rows["till-7-000123"]
    # 300 in Club (docs/loyalty.md's worked example) and 12 in the other programme.
    assert points_of(page) == {"till-7-000124": "0", "till-7-000123": "312"}
    link = reverse("admin:loyalty_transaction_changelist") + f"?customer__id__exact={customer.pk}"
    assert f'href="{link}"' in page
    listed = agent.get(link).content.decode()
    assert "till-7-000123" in listed


def test_each_purchase_lists_its_returns_with_the_points_they_took_back(agent, org, club):
    customer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=customer, program=club)
    purchase = buy(customer, "till-9", price="200.00").transaction
    for external_id, amount in (("R-1", "50.00"), ("R-2", "30.00")):
        return_record(
            organization=org,
            purchase=purchase,
            external_id=external_id,
            occurred_at="2026-06-20T12:00:00Z",
            amount=amount,
            actor=SYSTEM,
        )

    page = agent.get(overview(customer)).content.decode()

    returns = re.findall(
        r'<tr class="return" data-return="([^"]+)">(.*?)</tr>', page.split("till-9", 1)[1], re.S
    )
    shown = {
        external_id: html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))).split()
        for external_id, row in returns
    }
    assert list(shown) == ["R-1", "R-2"]
    # Club gives a point per 10.00: of the 20 points, a quarter comes back, then 15 %.
    assert shown["R-1"][-3:] == ["-50.00", "EUR", "-5"]
    assert shown["R-2"][-3:] == ["-30.00", "EUR", "-3"]


def test_a_customer_without_purchases_is_said_to_have_none(agent, org):
    customer = CustomerFactory(organization=org)
    page = agent.get(overview(customer)).content.decode()
    assert 'id="no-purchases"' in page
    assert not purchase_rows(page)


def test_a_purchase_whose_earning_was_withheld_says_why(agent, org, club):
    label = StatusLabelFactory(organization=org, name="fraud", may_earn=False, may_spend=False)
    customer = CustomerFactory(organization=org, status_label=label)
    EnrollmentFactory(customer=customer, program=club)
    buy(customer, "blocked-1", price="100.00")

    row = purchase_rows(agent.get(overview(customer)).content.decode())["blocked-1"]

    assert "earning withheld" in row
    assert "status label 'fraud' blocks" in row


def test_the_purchases_cost_the_same_queries_however_many(
    agent, org, club, django_assert_max_num_queries
):
    few = CustomerFactory(organization=org)
    many = CustomerFactory(organization=org)
    for customer, count in ((few, 1), (many, 12)):
        EnrollmentFactory(customer=customer, program=club)
        for n in range(count):
            buy(customer, f"order-{customer.pk}-{n}", price="20.00")

    def queries(customer) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert agent.get(overview(customer)).status_code == 200
        return len(captured)

    assert queries(few) == queries(many)
    with django_assert_max_num_queries(queries(few)):
        page = agent.get(overview(many)).content.decode()
    assert len(purchase_rows(page)) == 10  # the newest ten, and a link to them all


def test_the_purchases_and_the_form_cost_the_same_queries_for_a_supervisor(
    supervisor, org, club, django_assert_max_num_queries
):
    customer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=customer, program=club)
    buy(customer, "one", price="20.00")
    with CaptureQueriesContext(connection) as captured:
        supervisor.get(overview(customer))
    for n in range(5):
        buy(customer, f"more-{n}", price="20.00")
    StoreFactory.create_batch(3, organization=org)

    with django_assert_max_num_queries(len(captured)):
        page = supervisor.get(overview(customer)).content.decode()

    assert 'id="add-purchase"' in page


def purchase_form(**changes) -> dict:
    return {
        "external_id": "receipt-5531",
        "occurred_at": "2026-06-15T12:00",
        "store": "",
        "channel": "INSTORE",
        "currency": "EUR",
        "lines": "RUN-1, shoes, 1, 1200.00",
        **changes,
    }


def test_a_supervisor_adds_a_missing_purchase_and_it_earns_by_the_rules(supervisor, org, club):
    customer = CustomerFactory(organization=org)
    enrollment = EnrollmentFactory(customer=customer, program=club, tier=club.tiers.get(number=2))
    store = StoreFactory(organization=org, code="bukl.till")
    page = supervisor.get(overview(customer)).content.decode()
    assert 'id="add-purchase"' in page
    assert re.search(r'name="external_id"[^>]*value="staff-[0-9a-f]{12}"', page)

    response = supervisor.post(add_url(customer), purchase_form(store=store.pk))

    assert response.status_code == 302
    assert response["Location"] == overview(customer) + "#purchases"
    assert said(response) == "Recorded purchase receipt-5531: 300 points earned."
    purchase = Transaction.objects.get(external_id="receipt-5531")
    assert (purchase.customer, purchase.store, purchase.channel) == (customer, store, "INSTORE")
    assert purchase.actor.startswith("staff:")
    assert purchase.actor.endswith(" supervisor")
    rows = PointsTransaction.objects.filter(purchase=purchase).order_by("pk")
    assert [(row.points, row.actor) for row in rows] == [(120, purchase.actor)] * 2 + [
        (60, purchase.actor)
    ]
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 300
    assert AuditEvent.objects.filter(customer=customer, subject="points").count() == 3
    assert points_of(supervisor.get(overview(customer)).content.decode()) == {"receipt-5531": "300"}


def test_the_form_sent_again_records_the_purchase_once(supervisor, org, club):
    customer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=customer, program=club)
    supervisor.post(add_url(customer), purchase_form())

    response = supervisor.post(add_url(customer), purchase_form())

    assert said(response) == "Purchase receipt-5531 was recorded before: nothing more was earned."
    assert Transaction.objects.count() == 1
    assert PointsTransaction.objects.count() == 2  # Base and Shoes double, once


def test_another_customers_external_id_is_refused_on_its_field(supervisor, org, club):
    other = CustomerFactory(organization=org)
    buy(other, "receipt-5531")
    customer = CustomerFactory(organization=org)

    response = supervisor.post(add_url(customer), purchase_form())

    assert response.status_code == 200
    assert response.context["purchase_form"].errors == {
        "external_id": ["Purchase receipt-5531 is another customer's."]
    }
    assert not Transaction.objects.filter(customer=customer).exists()


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"lines": "RUN-1, shoes, 1, 12.505"}, "lines", "Item 1, unit price: EUR amounts"),
        ({"lines": "RUN-1, shoes, 1, 5\nRUN-2, , none, 5"}, "lines", "Item 2, quantity:"),
        ({"lines": "RUN-1 shoes 1 5"}, "lines", "Item 1: write it as SKU, category, quantity"),
        ({"currency": "eur"}, "currency", "An ISO 4217 code"),
        ({"occurred_at": "yesterday"}, "occurred_at", "Enter a valid date/time."),
        ({"external_id": ""}, "external_id", "This field is required."),
    ],
)
def test_a_refused_purchase_shows_each_error_next_to_its_field(
    supervisor, org, club, changes, field, error
):
    customer = CustomerFactory(organization=org)

    response = supervisor.post(add_url(customer), purchase_form(**changes))

    assert response.status_code == 200
    form = response.context["purchase_form"]
    assert list(form.errors) == [field]
    assert form.errors[field][0].startswith(error), form.errors
    page = response.content.decode()
    # On the 360 page, in the open form, just before the field.
    assert '<details class="add-purchase" open>' in page
    beside = re.search(
        rf'<ul class="errorlist"[^>]*>(.*?)</ul>\s*<(?:input|textarea)[^>]*name="{field}"',
        page,
        re.S,
    )
    assert error.split(":")[0] in html.unescape(beside[1])
    assert not Transaction.objects.exists()


def test_an_agent_sees_no_purchase_form_and_is_forbidden_to_post_one(agent, org, club):
    customer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=customer, program=club)

    page = agent.get(overview(customer)).content.decode()
    response = agent.post(add_url(customer), purchase_form())

    assert 'id="add-purchase"' not in page
    assert "Add a missing purchase" not in page
    assert response.status_code == 403
    assert not Transaction.objects.exists()


def test_another_organizations_customer_gets_no_purchase(supervisor, other_org):
    theirs = CustomerFactory(organization=other_org)
    assert supervisor.post(add_url(theirs), purchase_form()).status_code == 404
    assert not Transaction.objects.exists()


def test_a_merged_away_customer_gets_no_purchase(supervisor, org):
    customer = CustomerFactory(organization=org)
    customer.merged_into = CustomerFactory(organization=org)
    customer.save(update_fields=["merged_into"])

    response = supervisor.post(add_url(customer), purchase_form())

    assert said(response) == "Add a purchase: this customer was merged or erased."
    assert not Transaction.objects.exists()
