"""The Content-Security-Policy in a real browser: the console, the API's Swagger page and a card
page work under it, and it blocks nothing they need."""

import re

import pytest
from playwright.sync_api import expect

from crm.actors import SYSTEM
from loyalty.services.stamps import stamps_add
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory, EnrollmentFactory, RewardFactory

from .steps import csp_violations, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_console_runs_under_the_policy(new_page, member_of, org):
    supervisor = member_of("supervisor", org, "supervisor")
    customer = CustomerFactory(organization=org, first_name="Asha", last_name="Rao")
    card = CustomerCardFactory(customer=customer)
    RewardFactory(stamp_card=card.stamp_card, name="Free coffee", stamp_cost=5)
    stamps_add(organization=org, card=card, stamps=2, actor=SYSTEM)
    EnrollmentFactory(customer=customer)
    page = new_page()
    violations = csp_violations(page)

    log_in(page, supervisor)
    page.goto("/admin/customers/customer/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    # The admin's own scripts run: the navigation sidebar folds away.
    page.click("#toggle-nav-sidebar")
    expect(page.locator("#nav-sidebar")).to_be_hidden()

    page.goto(f"/admin/customers/customer/{customer.pk}/360/")
    expect(page.locator("#customer-name")).to_have_text("Asha Rao")
    expect(page.locator("#cards .stamps li.stamp.filled")).to_have_count(2)
    # The console's stylesheet applies: stamps are drawn as round marks.
    stamp = page.locator("#cards .stamps li.stamp.filled").first
    assert stamp.evaluate("(el) => getComputedStyle(el).borderRadius") == "50%"
    stamps = page.locator("#action-stamps")
    stamps.locator("select[name=card]").select_option(str(card.pk))
    stamps.locator("input[name=stamps]").fill("1")
    stamps.locator("input[type=submit]").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Added 1 stamp(s)")

    page.click("#full-history")
    expect(page.locator("#history tbody tr").first).to_be_visible()
    page.goto(f"/admin/customers/customer/{customer.pk}/change/")
    # The change form's inlines are added by the admin's scripts.
    expect(page.locator(".add-row a").first).to_be_visible()

    assert violations == []


def test_the_api_docs_page_runs_under_the_policy(new_page):
    page = new_page()
    violations = csp_violations(page)

    page.goto("/api/v1/docs/")

    expect(page.locator("#swagger-ui .info .title")).to_contain_text("Loyalty CRM API")
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    assert violations == []


def test_a_card_page_runs_under_the_policy(new_page, org):
    card = CustomerCardFactory(customer__organization=org)
    RewardFactory(stamp_card=card.stamp_card, name="Free coffee", stamp_cost=5)
    stamps_add(organization=org, card=card, stamps=3, actor=SYSTEM)
    page = new_page()
    violations = csp_violations(page)

    response = page.goto(f"/cards/{card.link_token}/")

    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".stamps li.stamp.filled")).to_have_count(3)
    expect(page.locator(".qr svg")).to_be_visible()
    # Its stylesheet applies: the card is the dark panel, not bare HTML.
    background = page.locator("main").evaluate("(el) => getComputedStyle(el).backgroundColor")
    assert re.fullmatch(r"rgb\(60, 65, 76\)", background)
    assert violations == []


def test_the_policy_is_enforced(new_page, org):
    """The check above sees what the policy blocks: an inline script is blocked and reported."""
    card = CustomerCardFactory(customer__organization=org)
    page = new_page()
    violations = csp_violations(page)
    page.goto(f"/cards/{card.link_token}/")

    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
    )

    assert page.evaluate("window.injected === undefined")
    page.wait_for_function("() => true")
    assert any("script-src" in violation for violation in violations), violations
