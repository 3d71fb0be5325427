"""A programme's tier settings and its tiers' thresholds: their defaults (the behaviour of
programmes made before them), their checks, and where they are edited and read (admin, API)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.actors import Actor
from crm.api.rendering import iso
from crm.errors import ErrorCode
from crm.models import ConfigurationChange
from loyalty.models import Enrollment, Program
from loyalty.services.points import points_award
from loyalty.services.programmes import program_create, tier_create
from loyalty.tiers import Tier
from tests.assertions import refused
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import EnrollmentFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db
CLERK = Actor("staff", "7 clerk")


def test_programmes_created_before_keep_lifetime_points_and_tiers_that_never_expire(org):
    program = program_create(organization=org, name="Club")

    assert (program.tier_basis, program.tier_window, program.tier_period_months) == (
        "points",
        "lifetime",
        12,
    )
    tier_create(program=program, number=1, name="Silver")
    gold = tier_create(program=program, number=2, name="Gold", points_threshold=100)
    enrollment = EnrollmentFactory(customer=CustomerFactory(organization=org), program=program)
    points_award(organization=org, enrollment=enrollment, points=100, actor=CLERK)
    enrollment = Enrollment.objects.get(pk=enrollment.pk)
    assert (enrollment.tier, enrollment.tier_expires_at) == (gold, None)


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"tier_basis": "visits"}, "tier_basis"),
        ({"tier_window": "weekly"}, "tier_window"),
        ({"tier_period_months": 0}, "tier_period_months"),
        ({"tier_period_months": 121}, "tier_period_months"),
    ],
)
def test_tier_settings_out_of_range_are_refused_naming_the_field(org, given, field):
    with refused(ErrorCode.INVALID, field):
        program_create(organization=org, name="Club", **given)


@pytest.mark.parametrize("amount", [Decimal("-1"), Decimal("0.00001"), Decimal(10) ** 13])
def test_a_spend_threshold_out_of_range_is_refused(org, amount):
    program = ProgramFactory(organization=org)
    with refused(ErrorCode.AMOUNT_INVALID, "spend_threshold"):
        tier_create(program=program, number=1, name="Gold", spend_threshold=amount)


# --- admin -------------------------------------------------------------------------------------


def change_url(program) -> str:
    return reverse("admin:loyalty_program_change", args=[program.pk])


def program_form(program, **tier_settings) -> dict:
    return {
        "name": program.name,
        "active": "on",
        "welcome_points": "0",
        "referrer_points": "0",
        "referee_points": "0",
        **tier_settings,
        "tiers-TOTAL_FORMS": "1",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
        "tiers-0-program": program.pk,
        "tiers-0-number": "2",
        "tiers-0-name": "Gold",
        "tiers-0-spend_threshold": "2500.50",
        "earning_rules-TOTAL_FORMS": "0",
        "earning_rules-INITIAL_FORMS": "0",
        "earning_rules-MIN_NUM_FORMS": "0",
        "earning_rules-MAX_NUM_FORMS": "1000",
    }


def test_the_programme_admin_edits_the_tier_settings_and_spend_thresholds_on_record(
    staff_client, org
):
    program = ProgramFactory(organization=org, name="Club")
    page = staff_client.get(change_url(program)).content.decode()
    for field in ['name="tier_basis"', 'name="tier_window"', 'name="tier_period_months"']:
        assert field in page, field
    assert 'name="tiers-__prefix__-spend_threshold"' in page

    response = staff_client.post(
        change_url(program),
        program_form(
            program, tier_basis="spend", tier_window="calendar_year", tier_period_months="12"
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    program.refresh_from_db()
    assert (program.tier_basis, program.tier_window) == ("spend", "calendar_year")
    assert Tier.objects.get(program=program).spend_threshold == Decimal("2500.50")
    change = ConfigurationChange.objects.filter(subject="program").latest("pk")
    assert change.changes == {
        "tier_basis": ["points", "spend"],
        "tier_window": ["lifetime", "calendar_year"],
    }
    created = ConfigurationChange.objects.get(subject="tier")
    assert created.changes["spend_threshold"] == [None, "2500.5"]


def test_a_tier_setting_the_service_refuses_is_an_error_on_its_field(staff_client, org):
    program = ProgramFactory(organization=org, name="Club")

    response = staff_client.post(
        change_url(program),
        program_form(
            program, tier_basis="points", tier_window="lifetime", tier_period_months="200"
        ),
    )

    assert response.status_code == 200
    assert "tier_period_months" in response.context["adminform"].form.errors
    assert Program.objects.get(pk=program.pk).tier_period_months == 12


# --- API ---------------------------------------------------------------------------------------


def test_the_api_shows_the_tier_settings_thresholds_and_a_tiers_expiry(api, org):
    program = ProgramFactory(
        organization=org, name="Club", tier_basis="spend", tier_window="rolling_12_months"
    )
    TierFactory(program=program, number=1, name="Silver")
    TierFactory(program=program, number=2, name="Gold", spend_threshold=Decimal("2500.50"))
    customer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=customer, program=program)

    shown = api.get(f"/api/v1/programs/{program.pk}/").json()

    assert (shown["tier_basis"], shown["tier_window"], shown["tier_period_months"]) == (
        "spend",
        "rolling_12_months",
        12,
    )
    assert [(t["points_threshold"], t["spend_threshold"]) for t in shown["tiers"]] == [
        (None, None),
        (None, "2500.5"),
    ]

    purchase = api.post(
        "/api/v1/transactions/",
        {
            "customer": customer.public_id,
            "external_id": "till-1",
            "occurred_at": timezone.now().isoformat(),
            "currency": "EUR",
            "lines": [{"sku": "COAT", "quantity": 1, "unit_price": "2500.50"}],
        },
        format="json",
    )

    assert purchase.status_code == 201, purchase.json()
    assert purchase.json()["tier_changes"][0]["tier_name"] == "Gold"
    [enrolment] = api.get(f"/api/v1/customers/{customer.public_id}/").json()["enrollments"]
    expires_at = Enrollment.objects.get(customer=customer).tier_expires_at
    assert expires_at > timezone.now() + dt.timedelta(days=364)
    assert (enrolment["tier"]["name"], enrolment["tier_expires_at"]) == ("Gold", iso(expires_at))
