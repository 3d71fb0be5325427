"""The admin home's dashboard: an organization's figures, each from one query, cached per
organization, and none of another organization's rows."""

import datetime as dt
import re

import pytest
import redis
from django.core.cache import cache
from django.utils import timezone

from crm.charts import Bar, bar_chart_svg
from crm.outages import Outage
from loyalty import dashboard
from loyalty.dashboard import DayCount, MonthPointsMoved, dashboard_compute, dashboard_for, start_of
from loyalty.models import PointsTransaction, StampTransaction
from loyalty.selectors import month_starts
from tests.crm.factories import StaffFactory
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory, EnrollmentFactory, ProgramFactory

pytestmark = pytest.mark.django_db

HOME = "/admin/"
# Session, user, the permissions the home page checks and Django's recent actions.
HOME_QUERIES = 5
DASHBOARD_QUERIES = 5


def days_ago(days: int) -> dt.datetime:
    return start_of(timezone.localdate() - dt.timedelta(days=days)) + dt.timedelta(hours=12)


def customer_created(organization, created_at, **kwargs):
    customer = CustomerFactory(organization=organization, **kwargs)
    type(customer).objects.filter(pk=customer.pk).update(created_at=created_at)
    return customer


def ledger(enrollment, rows) -> None:
    for kind, points, created_at in rows:
        PointsTransaction.objects.create(
            enrollment=enrollment, kind=kind, points=points, actor="test", created_at=created_at
        )


def stamps(card, rows) -> None:
    for kind, count, created_at in rows:
        StampTransaction.objects.create(
            card=card, kind=kind, stamps=count, actor="test", created_at=created_at
        )


def activity(organization, *, scale: int = 1):
    """Members, ledger rows and stamps of one organization; `scale` multiplies its figures."""
    now = timezone.now()
    months = month_starts(timezone.localdate(), 7)
    new = customer_created(organization, now)
    earlier = customer_created(organization, days_ago(8))
    customer_created(organization, days_ago(20))
    # Neither a merged-away customer nor an erased one is a member.
    customer_created(organization, now, merged_into=new)
    customer_created(organization, now, erased_at=now)
    club = ProgramFactory(organization=organization)
    first = EnrollmentFactory(customer=new, program=club, points_balance=700 * scale)
    EnrollmentFactory(customer=earlier, program=club, points_balance=50 * scale)
    ledger(
        first,
        [
            ("award", 300 * scale, now),
            ("award", 200 * scale, now),
            ("deduct", -100 * scale, now),
            ("expire", -40 * scale, now),
            ("transfer_in", 20 * scale, now),
            ("award", 1000 * scale, start_of(months[-2]) + dt.timedelta(days=14)),
            # Before the chart's six months.
            ("award", 5000 * scale, start_of(months[0]) + dt.timedelta(days=14)),
        ],
    )
    card = CustomerCardFactory(customer=new)
    stamps(
        card,
        [
            ("add", 2 * scale, now),
            ("add", 1 * scale, now),
            ("adjust", -1, now),
            ("add", 5 * scale, start_of(timezone.localdate()) - dt.timedelta(hours=1)),
        ],
    )


@pytest.fixture
def known(org, other_org):
    activity(org)
    activity(other_org, scale=10)


def test_the_figures_count_the_organizations_own_rows(org, known):
    figures = dashboard_compute(org.id)

    assert figures.members == 3
    assert figures.new_members_this_week == 1
    assert figures.points_issued_this_month == 500
    assert figures.points_redeemed_this_month == 100
    assert figures.points_expired_this_month == 40
    assert figures.points_outstanding == 750
    assert figures.stamps_given_today == 3
    today = timezone.localdate()
    assert [d.day for d in figures.new_members_by_day] == [
        today - dt.timedelta(days=n) for n in range(13, -1, -1)
    ]
    assert {d for d in figures.new_members_by_day if d.count} == {
        DayCount(day=today - dt.timedelta(days=8), count=1),
        DayCount(day=today, count=1),
    }
    months = month_starts(today, 6)
    assert figures.points_by_month == [
        *(MonthPointsMoved(month=m, issued=0, redeemed=0, expired=0) for m in months[:4]),
        MonthPointsMoved(month=months[4], issued=1000, redeemed=0, expired=0),
        MonthPointsMoved(month=months[5], issued=500, redeemed=100, expired=40),
    ]


def test_each_figure_is_one_query(org, known, django_assert_num_queries):
    with django_assert_num_queries(DASHBOARD_QUERIES):
        dashboard_compute(org.id)


def test_a_superuser_sees_the_totals_of_every_organization(known, django_user_model):
    root = django_user_model.objects.create_superuser("root", "", "pw")

    figures = dashboard_for(root)

    assert figures.members == 6
    assert figures.points_issued_this_month == 5500
    assert figures.points_outstanding == 8250
    assert figures.stamps_given_today == 33


def test_staff_of_no_organization_see_no_dashboard(client, known):
    nobody = StaffFactory(username="nobody", organization=None)
    client.force_login(nobody)

    assert dashboard_for(nobody) is None
    page = client.get(HOME).content.decode()
    assert 'id="customer-search"' in page
    assert 'id="dashboard"' not in page


def figure(page: str, name: str) -> int:
    return int(re.search(rf'id="figure-{name}">([0-9,]+)<', page)[1].replace(",", ""))


def test_the_home_page_shows_the_figures_and_charts_under_the_search(staff_client, known):
    page = staff_client.get(HOME).content.decode()

    assert page.index('id="customer-search"') < page.index('id="dashboard"')
    assert figure(page, "members") == 3
    assert figure(page, "new-members") == 1
    assert figure(page, "points-issued") == 500
    assert figure(page, "points-redeemed") == 100
    assert figure(page, "points-expired") == 40
    assert figure(page, "points-outstanding") == 750
    assert figure(page, "stamps-today") == 3
    days = re.search(r'<svg [^>]*class="bar-chart new-members-chart".*?</svg>', page, re.S)[0]
    drawn = dict(re.findall(r'data-key="([0-9-]+)" data-value="(\d+)"', days))
    assert len(drawn) == 14
    assert drawn[f"{timezone.localdate():%Y-%m-%d}"] == "1"
    months = re.search(r'<svg [^>]*class="bar-chart points-issued-chart".*?</svg>', page, re.S)[0]
    drawn = dict(re.findall(r'data-key="([0-9-]+)" data-value="(\d+)"', months))
    assert list(drawn.values()) == ["0", "0", "0", "0", "1000", "500"]
    assert "<script" not in days + months
    assert "http" not in (days + months).replace("http://www.w3.org/2000/svg", "")


def test_another_organizations_staff_see_their_own_figures(client, other_org, known):
    client.force_login(StaffFactory(username="agent-globex", organization=other_org))

    page = client.get(HOME).content.decode()

    assert figure(page, "members") == 3
    assert figure(page, "points-issued") == 5000
    assert figure(page, "stamps-today") == 30


def test_the_home_page_runs_a_fixed_number_of_queries_cold_and_warm(
    staff_client, org, known, django_assert_max_num_queries
):
    with django_assert_max_num_queries(HOME_QUERIES + DASHBOARD_QUERIES):
        assert staff_client.get(HOME).status_code == 200
    activity(org)  # more rows cost no more queries, and the cached figures stand

    with django_assert_max_num_queries(HOME_QUERIES):
        page = staff_client.get(HOME).content.decode()
    assert figure(page, "members") == 3

    cache.clear()
    with django_assert_max_num_queries(HOME_QUERIES + DASHBOARD_QUERIES):
        page = staff_client.get(HOME).content.decode()
    assert figure(page, "members") == 6


def test_the_cache_is_per_organization(client, org, other_org, known):
    client.force_login(StaffFactory(username="agent-acme", organization=org))
    client.get(HOME)
    client.force_login(StaffFactory(username="agent-globex", organization=other_org))

    page = client.get(HOME).content.decode()

    assert figure(page, "points-issued") == 5000


def test_an_unreachable_cache_costs_the_queries_not_the_page(staff_client, known, monkeypatch):
    def unreachable(*args, **kwargs):
        raise redis.ConnectionError("refused")

    # An outage memory of its own, so that the tests after this one find the cache up.
    monkeypatch.setattr(dashboard, "cache_outage", Outage("The cache", "uncached"))
    monkeypatch.setattr(cache, "get", unreachable)
    monkeypatch.setattr(cache, "set", unreachable)

    page = staff_client.get(HOME).content.decode()

    assert figure(page, "members") == 3
    assert not dashboard.cache_outage.worth_trying()


def test_a_bar_chart_escapes_its_texts():
    svg = bar_chart_svg(
        name="test-chart", title="<b>", bars=[Bar(key="k", label="<i>", title="&", value=3)]
    )

    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    assert "&lt;i&gt;" in svg
    assert 'data-value="3"' in svg
