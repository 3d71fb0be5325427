"""A programme's admin pages: the value of a point, the preview of its earning rules (which writes
nothing) and its points by month with the liability they are."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.actors import Actor
from crm.models import ConfigurationChange
from loyalty.models import PointsTransaction, Program
from loyalty.selectors import month_starts, program_points_report
from loyalty.services.points import points_award
from tests.crm.factories import StaffFactory, StoreFactory
from tests.loyalty.factories import (
    EarningRuleFactory,
    EnrollmentFactory,
    ProgramFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def club(org):
    """Club, of docs/loyalty.md's worked example: 1 point per 10.00, shoes x2, Gold x1.5."""
    program = ProgramFactory(organization=org, name="Club")
    TierFactory(program=program, number=1, name="Silver")
    TierFactory(program=program, number=2, name="Gold")
    EarningRuleFactory(
        program=program, name="Base", parameters={"points": 1, "per": "10.00", "rounding": "down"}
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


def url(program, view):
    return reverse(f"admin:loyalty_program_{view}", args=[program.pk])


def every_row_count() -> dict[str, int]:
    return {model._meta.label: model._base_manager.count() for model in apps.get_models()}


# --- the value of a point ----------------------------------------------------------------------


def program_form(program, **changes) -> dict:
    data = {
        "name": program.name,
        "active": "on",
        "welcome_points": "0",
        "referrer_points": "0",
        "referee_points": "0",
        "point_value": "0.25",
        "point_value_currency": "INR",
    }
    for prefix in ("tiers", "earning_rules"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return {**data, **changes}


def test_the_value_of_a_point_is_set_on_the_programme_on_record(staff_client, org):
    program = ProgramFactory(organization=org, name="Club")

    response = staff_client.post(url(program, "change"), program_form(program))

    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.point_value, program.point_value_currency) == (Decimal("0.25"), "INR")
    change = ConfigurationChange.objects.get(subject="program", action="changed")
    assert change.changes == {"point_value": ["0", "0.25"], "point_value_currency": ["", "INR"]}


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"point_value_currency": ""}, "point_value_currency", "The currency of the value"),
        ({"point_value_currency": "inr"}, "point_value_currency", "An ISO 4217 code"),
        ({"point_value": "-1"}, "point_value", "An amount from 0"),
    ],
)
def test_a_value_of_a_point_the_service_refuses_is_not_saved(
    staff_client, org, changes, field, error
):
    program = ProgramFactory(organization=org, name="Club")

    response = staff_client.post(url(program, "change"), program_form(program, **changes))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field][0].startswith(error)
    program.refresh_from_db()
    assert program.point_value == 0


def test_a_blank_value_of_a_point_is_none_configured(staff_client, org):
    program = ProgramFactory(organization=org, point_value=Decimal(1), point_value_currency="EUR")

    staff_client.post(
        url(program, "change"), program_form(program, point_value="", point_value_currency="")
    )

    program.refresh_from_db()
    assert (program.point_value, program.point_value_currency) == (0, "")


# --- the preview of the earning rules ----------------------------------------------------------


def preview(client, program, **given):
    query = {"amount": "1200.00", "currency": "EUR", "category": "shoes", **given}
    return client.get(url(program, "preview"), query)


def sentence(response) -> str:
    return re.search(
        r'<p class="preview-sentence"><strong>(.*?)</strong>', response.content.decode()
    )[1]


def test_the_preview_says_what_a_purchase_earns_rule_by_rule(staff_client, club):
    gold = club.tiers.get(number=2)

    response = preview(staff_client, club, tier=gold.pk)

    assert response.status_code == 200
    assert sentence(response) == (
        "A purchase of 1,200.00 in category shoes by a Gold member earns 300 points: "
        "Base +120, Shoes double +120, Gold bonus +60."
    )
    assert "x2 for 1200.00 spent on shoes" in response.content.decode()


def test_the_preview_counts_the_store_the_date_and_the_sku(staff_client, org, club):
    store = StoreFactory(organization=org, name="Flagship")
    EarningRuleFactory(
        program=club,
        name="Flagship trainers",
        kind="sku_multiplier",
        parameters={"sku": "RUN-1", "multiplier": "3"},
    ).stores.set([store])
    EarningRuleFactory(
        program=club,
        name="June only",
        kind="base_rate",
        parameters={"points": 1, "per": "100", "rounding": "down"},
        active_from=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        active_until=dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
    )

    response = preview(
        staff_client, club, sku="RUN-1", store=store.pk, occurred_at="2026-06-15T12:00"
    )

    text = sentence(response)
    assert text.startswith(
        "A purchase of 1,200.00 in category shoes of SKU RUN-1 at Flagship on 2026-06-15 12:00"
    )
    # Base 120 and June 12 make 132; shoes x2 adds 132, the trainers x3 in Flagship 264.
    assert text.endswith(
        "earns 528 points: Base +120, June only +12, Shoes double +132, Flagship trainers +264."
    )
    elsewhere = sentence(preview(staff_client, club, sku="RUN-1", occurred_at="2026-08-01T12:00"))
    assert elsewhere.endswith("earns 240 points: Base +120, Shoes double +120.")


def test_the_preview_writes_nothing(staff_client, club):
    before = every_row_count()

    with CaptureQueriesContext(connection) as captured:
        response = preview(staff_client, club, tier=club.tiers.get(number=2).pk)

    assert "earns 300 points" in sentence(response)
    assert every_row_count() == before
    writes = [q["sql"] for q in captured if re.match(r"\s*(INSERT|UPDATE|DELETE)", q["sql"], re.I)]
    # Signing in touches the session only.
    assert all("django_session" in sql for sql in writes), writes


def test_the_preview_shows_a_refusal_on_its_field(staff_client, club):
    response = preview(staff_client, club, amount="12.505")

    form = response.context["preview_form"]
    assert form.errors == {"amount": ["EUR amounts have at most 2 decimals."]}
    assert 'class="preview-sentence"' not in response.content.decode()


def test_the_preview_offers_the_programmes_tiers_and_the_organizations_stores(
    staff_client, org, other_org, club
):
    other = ProgramFactory(organization=org)
    foreign_tier = TierFactory(program=other, number=2, name="Other gold")
    theirs = StoreFactory(organization=other_org)

    response = preview(staff_client, club, tier=foreign_tier.pk, store=theirs.pk)

    assert set(response.context["preview_form"].errors) == {"tier", "store"}


def test_the_programme_page_has_the_preview_form_and_links(staff_client, club):
    page = staff_client.get(url(club, "change")).content.decode()

    assert 'id="rule-preview-form"' in page
    assert f'action="{url(club, "preview")}"' in page
    assert f'href="{url(club, "chart")}"' in page
    # Outside the programme's own form.
    assert page.index('id="rule-preview-form"') > page.index("</form>")


# --- the points chart --------------------------------------------------------------------------


def at(month: dt.date, day: int = 15) -> dt.datetime:
    return dt.datetime(month.year, month.month, day, 12, tzinfo=timezone.get_current_timezone())


def ledger(enrollment, rows) -> None:
    """Ledger rows as they were written then (what the chart counts is the ledger)."""
    for kind, points, created_at in rows:
        PointsTransaction.objects.create(
            enrollment=enrollment, kind=kind, points=points, actor="test", created_at=created_at
        )


@pytest.fixture
def known_ledger(org, club):
    """Two members' rows over thirteen months: the oldest before the chart's twelve."""
    months = month_starts(timezone.localdate(), 13)
    first = EnrollmentFactory(customer__organization=org, program=club)
    second = EnrollmentFactory(customer__organization=org, program=club)
    ledger(first, [("award", 1000, at(months[0]))])
    ledger(
        first,
        [("award", 300, at(months[10])), ("deduct", -100, at(months[10], 20))],
    )
    ledger(
        second,
        [
            ("award", 40, at(months[10], 2)),
            ("expire", -50, at(months[12], 1)),
            ("award", 20, at(months[12], 1)),
            ("transfer_out", -20, at(months[12], 1)),
        ],
    )
    ledger(first, [("transfer_in", 20, at(months[12], 1))])
    # Another programme's rows count in its own chart only.
    ledger(EnrollmentFactory(customer__organization=org), [("award", 999, at(months[12], 1))])
    return months[1:]


def test_the_report_counts_each_month_and_the_balance_at_its_end(club, known_ledger):
    report = program_points_report(club)

    figures = [(m.month, m.issued, m.redeemed, m.expired, m.outstanding) for m in report.months]
    assert [f[0] for f in figures] == known_ledger
    assert figures[:9] == [(month, 0, 0, 0, 1000) for month in known_ledger[:9]]
    assert figures[9:] == [
        (known_ledger[9], 340, 100, 0, 1240),
        (known_ledger[10], 0, 0, 0, 1240),
        (known_ledger[11], 20, 0, 50, 1210),
    ]
    assert report.outstanding == 1210
    assert report.liability is None


def test_the_chart_draws_the_monthly_figures(staff_client, club, known_ledger):
    page = staff_client.get(url(club, "chart")).content.decode()

    svg = re.search(r'<svg [^>]*class="points-chart".*?</svg>', page, re.S)[0]
    drawn = {
        (month, kind): int(points)
        for month, kind, points in re.findall(
            r'data-month="([0-9-]+)" data-kind="(\w+)" data-points="(-?\d+)"', svg
        )
    }
    this, last_but_one = known_ledger[11], known_ledger[9]
    assert len(drawn) == 12 * 4
    assert drawn[(f"{last_but_one:%Y-%m}", "issued")] == 340
    assert drawn[(f"{last_but_one:%Y-%m}", "redeemed")] == 100
    assert drawn[(f"{this:%Y-%m}", "expired")] == 50
    assert drawn[(f"{this:%Y-%m}", "outstanding")] == 1210
    assert drawn[(f"{known_ledger[0]:%Y-%m}", "outstanding")] == 1000
    assert 'id="liability-value">not configured' in page
    assert '<strong id="outstanding">1,210</strong>' in page


def test_the_liability_is_the_points_outstanding_at_the_value_of_a_point(
    staff_client, club, known_ledger
):
    Program.objects.filter(pk=club.pk).update(
        point_value=Decimal("0.0125"), point_value_currency="EUR"
    )

    page = staff_client.get(url(club, "chart")).content.decode()

    # 1,210 points at 0.0125 EUR: 15.125, to the cent half up.
    assert '<strong id="liability-value">15.13 EUR</strong>' in page


def test_the_chart_escapes_what_it_writes(staff_client, org):
    program = ProgramFactory(organization=org, name="<script>alert(1)</script>")

    page = staff_client.get(url(program, "chart")).content.decode()

    assert "<script>alert" not in page
    assert "Points of &lt;script&gt;alert(1)&lt;/script&gt; by month" in page


def test_the_chart_costs_the_same_queries_however_long_the_ledger(
    staff_client, org, club, django_assert_max_num_queries
):
    enrollment = EnrollmentFactory(customer__organization=org, program=club)
    points_award(organization=org, enrollment=enrollment, points=5, actor=Actor("system"))
    with CaptureQueriesContext(connection) as captured:
        staff_client.get(url(club, "chart"))
    months = month_starts(timezone.localdate(), 12)
    for month in months:
        ledger(enrollment, [("award", 10, at(month)), ("deduct", -5, at(month, 16))])

    with django_assert_max_num_queries(len(captured)):
        assert staff_client.get(url(club, "chart")).status_code == 200


def test_another_organizations_programme_has_no_chart_nor_preview(staff_client, other_org):
    theirs = ProgramFactory(organization=other_org)
    for view in ("chart", "preview"):
        assert staff_client.get(url(theirs, view)).status_code == 404


def test_an_agent_sees_the_chart_and_the_preview(client, org, club):
    agent = StaffFactory(username="agent", organization=org, all_permissions=False)
    agent.user_permissions.clear()
    agent.groups.add(Group.objects.get(name="agent"))
    client.force_login(agent)

    assert client.get(url(club, "chart")).status_code == 200
    # Theirs to view, not to change: the page shows the preview's form all the same.
    assert 'id="rule-preview-form"' in client.get(url(club, "change")).content.decode()
    assert "earns 120 points" in sentence(preview(client, club, category=""))
