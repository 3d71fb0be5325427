"""A customer's purchases and a programme's points in a real browser: a supervisor adds a purchase
that did not reach the CRM from the 360 page; the points chart draws under the page's policy
(screenshots with SCREENSHOTS=docs/screenshots)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.actors import Actor
from crm.models import Organization
from customers.demo import DEMO_SLUG, seed_demo
from loyalty.models import Enrollment, PointsTransaction, Program
from loyalty.selectors import month_starts, program_points_report
from loyalty.services.points import points_award, points_deduct
from loyalty.transactions import Transaction
from tests.crm.factories import StoreFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import EarningRuleFactory, EnrollmentFactory, ProgramFactory

from .steps import csp_violations, log_in, message, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_supervisor_adds_a_missing_purchase_from_the_360_page(
    new_page, member_of, org, live_server
):
    supervisor = member_of("supervisor", org, "supervisor")
    customer = CustomerFactory(organization=org, first_name="Asha", last_name="Rao")
    program = ProgramFactory(organization=org, name="Club")
    EarningRuleFactory(
        program=program, name="Base", parameters={"points": 1, "per": "10", "rounding": "down"}
    )
    EnrollmentFactory(customer=customer, program=program)
    StoreFactory(organization=org, code="bukl.till", name="Flagship")
    page = new_page()
    violations = csp_violations(page)

    log_in(page, supervisor)
    page.goto(f"/admin/customers/customer/{customer.pk}/360/")
    expect(page.locator("#no-purchases")).to_be_visible()
    page.locator("#purchases summary", has_text="Add a missing purchase").click()
    form = page.locator("#add-purchase")
    external_id = form.locator("input[name=external_id]").input_value()
    assert re.fullmatch(r"staff-[0-9a-f]{12}", external_id)
    form.locator("input[name=external_id]").fill("receipt-5531")
    form.locator("input[name=occurred_at]").fill("2026-06-15T12:30")
    form.locator("select[name=store]").select_option(label="Flagship (bukl.till)")
    form.locator("input[name=currency]").fill("EUR")
    # A mistake first: the error shows beside the lines, and what was typed stays.
    form.locator("textarea[name=lines]").fill("RUN-1, shoes, 1, 12.505")
    form.locator("input[type=submit]").click()
    lines = page.locator("#add-purchase textarea[name=lines]")
    expect(lines).to_be_visible()
    expect(page.locator("#add-purchase .errorlist")).to_have_text(
        "Item 1, unit price: EUR amounts have at most 2 decimals."
    )
    page.locator("#purchases").evaluate("(section) => section.scrollIntoView()")
    screenshot(page, "customer-add-purchase.png")
    lines.fill("RUN-1, shoes, 1, 120.00\nSOCK-3, , 2, 4.50")
    page.locator("#add-purchase input[type=submit]").click()

    expect(message(page, "success")).to_have_text(
        "Recorded purchase receipt-5531: 12 points earned."
    )
    row = page.locator('#purchases tr[data-purchase="receipt-5531"]')
    expect(row).to_contain_text("2026-06-15 12:30")
    expect(row).to_contain_text("Flagship")
    expect(row).to_contain_text("129.00")
    expect(row.locator(".points-earned")).to_have_text("12")
    expect(page.locator("#enrollments .points-balance")).to_have_text("12")
    purchase = Transaction.objects.get(external_id="receipt-5531")
    assert purchase.actor.endswith(" supervisor")
    assert violations == []


def a_year_of_points(organization: Organization) -> Program:
    """The demo programme with a year of its members' awards, redemptions and expiries."""
    program = Program.objects.get(organization=organization, name="Demo Rewards")
    enrollments = list(Enrollment.objects.filter(program=program).order_by("pk"))
    staff = Actor("system", "seed")
    for enrollment in enrollments[:5]:
        points_award(organization=organization, enrollment=enrollment, points=400, actor=staff)
        points_deduct(organization=organization, enrollment=enrollment, points=150, actor=staff)
    # The months before this one, as the ledger recorded them then.
    for number, month in enumerate(month_starts(timezone.localdate(), 12)[:-1]):
        moment = dt.datetime(month.year, month.month, 10, 12, tzinfo=dt.UTC)
        for kind, points in (("award", 600 + 80 * number), ("deduct", -(200 + 30 * number))):
            PointsTransaction.objects.create(
                enrollment=enrollments[number % len(enrollments)],
                kind=kind,
                points=points,
                actor="seed",
                created_at=moment,
            )
        if number % 4 == 3:
            PointsTransaction.objects.create(
                enrollment=enrollments[0],
                kind="expire",
                points=-90,
                actor="seed",
                created_at=moment,
            )
    return program


def test_a_programmes_points_chart_opens_from_its_page(new_page, member_of, live_server):
    seed_demo(customers=8)
    organization = Organization.objects.get(slug=DEMO_SLUG)
    supervisor = member_of("supervisor", organization, "priya.supervisor")
    program = a_year_of_points(organization)
    page = new_page()
    violations = csp_violations(page)

    log_in(page, supervisor)
    page.goto(f"/admin/loyalty/program/{program.pk}/change/")
    page.click("#points-chart-link")

    expect(page).to_have_url(live_server.url + f"/admin/loyalty/program/{program.pk}/chart/")
    chart = page.locator("svg.points-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar.issued[data-points]")).to_have_count(12)
    expect(chart.locator("circle.outstanding")).to_have_count(12)
    expect(page.locator("#points-by-month tbody tr")).to_have_count(12)
    # The stylesheet, served by the CRM itself, colours the bars.
    fill = chart.locator("rect.bar.issued").first.evaluate("(el) => getComputedStyle(el).fill")
    assert fill == "rgb(46, 139, 87)"
    # The demo programme's points are worth 0.25 INR each.
    outstanding = int(page.locator("#outstanding").inner_text().replace(",", ""))
    assert outstanding == program_points_report(program).outstanding > 0
    liability = Decimal(outstanding) * Decimal("0.25")
    expect(page.locator("#liability-value")).to_have_text(f"{liability:,.2f} INR")
    assert violations == []
    screenshot(page, "programme-chart.png", full_page=True)
