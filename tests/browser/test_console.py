"""The member-care console in a real browser: an agent's day, a supervisor's merge, and the pages
as staff see them (screenshots with SCREENSHOTS=docs/screenshots)."""

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from crm.actors import SYSTEM, Actor
from crm.models import Organization
from customers.demo import DEMO_SLUG, seed_demo
from customers.inputs import (
    ChannelInput,
    CustomerInput,
    EnrollmentInput,
    IdentifierInput,
    SourceAccountInput,
)
from customers.membership.registration import customer_register
from customers.membership.update import customer_update
from customers.models import Customer
from loyalty.models import CouponSeries, PointsTransaction, Program, StampCard
from loyalty.services.coupons import coupon_issue
from loyalty.services.points import points_award, points_deduct
from loyalty.services.stamps import stamps_add
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory, EnrollmentFactory, RewardFactory

from .steps import log_in, message, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = "/admin/customers/customer/"


def overview_path(customer: Customer) -> str:
    return f"{CUSTOMERS}{customer.pk}/360/"


def test_an_agent_finds_a_customer_by_card_adds_a_stamp_and_cannot_award_points(
    new_page, member_of, org, live_server
):
    agent = member_of("agent", org, "agent")
    customer = CustomerFactory(organization=org, first_name="Asha", last_name="Rao")
    card = CustomerCardFactory(customer=customer)
    other = CustomerFactory(organization=org, first_name="Ravi", last_name="Rao")
    CustomerCardFactory(customer=other, stamp_card=card.stamp_card)
    RewardFactory(stamp_card=card.stamp_card, name="Free coffee", stamp_cost=5)
    stamps_add(organization=org, card=card, stamps=2, actor=SYSTEM)
    enrollment = EnrollmentFactory(customer=customer)
    page = new_page()

    log_in(page, agent)

    # The customer list's search box finds the customer by their card's code.
    page.goto(CUSTOMERS)
    page.fill("#searchbar", card.code)
    page.click("#changelist-search input[type=submit]")
    expect(page).to_have_url(re.compile(r"\?q="))
    assert parse_qs(urlsplit(page.url).query)["q"] == [card.code]
    results = page.locator("#result_list tbody tr")
    expect(results).to_have_count(1)

    # The name opens the 360 page.
    results.get_by_role("link", name="Asha Rao").click()
    expect(page).to_have_url(live_server.url + overview_path(customer))
    expect(page.locator("#customer-name")).to_have_text("Asha Rao")
    progress = page.locator(f'.stamp-count[data-card="{card.code}"]')
    filled = page.locator("#cards .stamps li.stamp.filled")
    expect(progress).to_have_text("2 of 5 stamps")
    expect(filled).to_have_count(2)

    # An agent adds stamps.
    stamps = page.locator("#action-stamps")
    stamps.locator("select[name=card]").select_option(str(card.pk))
    stamps.locator("input[name=stamps]").fill("1")
    stamps.locator("input[type=submit]").click()
    expect(message(page, "success")).to_have_text(f"Added 1 stamp(s): card {card.code} has 3.")
    expect(progress.locator("strong")).to_have_text("3")
    expect(progress).to_have_text("3 of 5 stamps")
    expect(filled).to_have_count(3)
    card.refresh_from_db()
    assert card.stamps == 3

    # Points are a supervisor's: the form is there, marked, and the agent is refused.
    points = page.locator("#action-points")
    expect(points).to_contain_text("not allowed for your role")
    points.locator("select[name=enrollment]").select_option(str(enrollment.pk))
    points.locator("select[name=direction]").select_option("award")
    points.locator("input[name=points]").fill("10")
    points.locator("input[name=reason]").fill("Goodwill")
    points.locator("input[type=submit]").click()
    expect(message(page, "error")).to_have_text(
        "Award or deduct points: you do not have permission to do this."
    )
    expect(page).to_have_url(live_server.url + overview_path(customer))
    assert not PointsTransaction.objects.filter(enrollment__customer=customer).exists()

    # Nor may an agent merge: no link to it, and the page itself is forbidden.
    expect(page.locator("#merge-link")).to_have_count(0)
    response = page.goto(f"{CUSTOMERS}{customer.pk}/merge/")
    assert response is not None
    assert response.status == 403


def test_a_supervisor_merges_a_duplicate_customer(new_page, member_of, org, live_server):
    supervisor = member_of("supervisor", org, "supervisor")
    survivor = CustomerFactory(
        organization=org, first_name="Mei", last_name="Tanaka", email="mei@example.com"
    )
    duplicate = CustomerFactory(
        organization=org, first_name="Mei", last_name="Tanaka", email="mei.tanaka@example.net"
    )
    CustomerFactory(organization=org, first_name="Kenji", last_name="Tanaka")
    page = new_page()

    log_in(page, supervisor)
    page.goto(overview_path(survivor))
    page.click("#merge-link")
    expect(page).to_have_url(live_server.url + f"{CUSTOMERS}{survivor.pk}/merge/")

    search = page.locator("#merge-search")
    search.locator("input[name=other]").fill("mei.tanaka@example.net")
    search.locator("input[type=submit]").click()
    candidates = page.locator("#merge-candidates tbody tr")
    expect(candidates).to_have_count(1)
    expect(candidates).to_contain_text(duplicate.public_id)
    candidates.get_by_role("link", name="Review the merge").click()

    # Where both have a value, the survivor's is kept: the page says which.
    conflicts = page.locator("#merge-conflicts")
    expect(conflicts).to_be_visible()
    email_row = conflicts.locator("tbody tr", has_text="email")
    expect(email_row).to_contain_text("mei@example.com")
    expect(email_row).to_contain_text("mei.tanaka@example.net")

    page.click("#confirm-merge")
    expect(page).to_have_url(live_server.url + overview_path(survivor))
    expect(message(page, "success")).to_have_text(
        f"Merged {duplicate.public_id} into {survivor.public_id}."
    )
    expect(page.locator("body")).to_contain_text(
        f"Also known by the ids of merged-away customers: {duplicate.public_id}"
    )
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == survivor.pk


def a_customer_with_history(organization: Organization, staff: Actor) -> Customer:
    """A member of the demo programme as they look after a few months of visits."""
    program = Program.objects.get(organization=organization, name="Demo Rewards")
    coffee = StampCard.objects.get(organization=organization, name="Coffee card")
    referrer = Customer.objects.filter(organization=organization).order_by("pk")[2]
    customer = customer_register(
        organization=organization,
        data=CustomerInput(
            first_name="Meera",
            last_name="Iyer",
            email="meera.iyer@example.com",
            email_verified=True,
            phone="+919845012345",
            birthday=dt.date(1991, 4, 12),
            address_line1="12 Residency Road",
            city="Bengaluru",
            state="Karnataka",
            postal_code="560025",
            country="IN",
            store_code="bukl.till",
            referral_code=referrer.referral_code,
            source_accounts=[
                SourceAccountInput(
                    source="INSTORE",
                    identifiers=[
                        IdentifierInput(type="email", value="meera.iyer@example.com"),
                        IdentifierInput(type="mobile", value="+919845012345"),
                        IdentifierInput(type="cardnumber", value="DCC-0042-7781"),
                    ],
                ),
                SourceAccountInput(
                    source="WECHAT",
                    account_id="wx-demo-coffee",
                    identifiers=[
                        IdentifierInput(type="unionId", value="oU3k9-meera-2f7a"),
                        IdentifierInput(type="wechat", value="wxid_meera91"),
                    ],
                ),
            ],
            channels=[
                ChannelInput(
                    type="email", value="meera.iyer@example.com", primary=True, verified=True
                ),
                ChannelInput(type="mobile", value="+919845012345", primary=True, verified=True),
                ChannelInput(type="wechat", value="wxid_meera91", subscribed=False),
            ],
            enrollments=[EnrollmentInput(program_id=program.pk, tier_number=2)],
            stamp_card_ids=[coffee.pk],
        ),
        actor=Actor("api_key", "7 pos-flagship"),
    ).customer
    enrollment = customer.enrollments.get()
    for points, reason in [(320, "Purchase, order #10431"), (180, "Purchase, order #10588")]:
        points_award(
            organization=organization,
            enrollment=enrollment,
            points=points,
            reason=reason,
            actor=Actor("api_key", "7 pos-flagship"),
        )
    points_deduct(
        organization=organization,
        enrollment=enrollment,
        points=100,
        reason="Redeemed: free pastry",
        actor=staff,
    )
    card = customer.cards.get()
    for _ in range(5):
        stamps_add(organization=organization, card=card, stamps=1, reason="Visit", actor=staff)
    birthday = CouponSeries.objects.create(
        organization=organization, description="Birthday treat - free dessert", valid_days=14
    )
    coupon_issue(organization=organization, series=birthday, customer=customer, actor=staff)
    customer_update(
        customer=customer,
        data=CustomerInput(
            address_line2="Flat 4B",
            description="Prefers oat milk.",
            extended_fields={"preferred_language": "Kannada", "acquisition_channel": "Instagram"},
            custom_fields={"favourite_drink": "Flat white"},
        ),
        actor=staff,
    )
    return customer


def test_a_supervisor_sees_the_customer_list_and_a_whole_customer_on_one_page(
    new_page, member_of, live_server
):
    seed_demo(customers=15)
    organization = Organization.objects.get(slug=DEMO_SLUG)
    supervisor = member_of("supervisor", organization, "priya.supervisor")
    customer = a_customer_with_history(organization, Actor.staff(supervisor))
    page = new_page()

    log_in(page, supervisor)
    page.goto(CUSTOMERS)
    # The list is wide: hide the admin's navigation sidebar, as staff do (it stays hidden).
    page.click("#toggle-nav-sidebar")
    expect(page.locator("#nav-sidebar")).to_be_hidden()
    page.goto(CUSTOMERS)
    expect(page.locator("#result_list tbody tr")).to_have_count(16)
    expect(page.locator("#result_list")).to_contain_text("Meera Iyer")
    screenshot(page, "customer-list.png")

    page.locator("#result_list").get_by_role("link", name="Meera Iyer").click()
    expect(page).to_have_url(live_server.url + overview_path(customer))
    expect(page.locator("#accounts")).to_contain_text("wxid_meera91")
    expect(page.locator("#channels")).to_contain_text("unsubscribed")
    expect(page.locator("#fields")).to_contain_text("Flat white")
    expect(page.locator("#enrollments .points-balance")).to_have_text("500")
    expect(page.locator("#cards .stamps li.stamp.filled")).to_have_count(6)
    expect(page.locator("#cards")).to_contain_text("Free coffee (5)")
    expect(page.locator("#coupons tr")).to_have_count(2)
    expect(page.locator("#history tbody tr").first).to_contain_text("priya.supervisor")
    expect(page.locator("#merge-link")).to_be_visible()
    expect(page.locator("#full-history")).to_be_visible()
    # The admin's own stylesheet is served: the page is laid out, not bare HTML.
    assert page.evaluate("getComputedStyle(document.querySelector('#header')).display") == "flex"
    screenshot(page, "customer-360.png", full_page=True)
