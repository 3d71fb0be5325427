"""The admin pages of points rewards: saved through the services; redemptions read-only."""

import pytest
from django.urls import reverse

from crm.models import ConfigurationChange
from loyalty.points_rewards import PointsReward
from tests.loyalty.factories import CouponSeriesFactory, PointsRewardFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def form(program, series, **fields):
    return {
        "program": program.pk,
        "name": "Free coffee",
        "description": "",
        "points_cost": "150",
        "stock": "",
        "per_customer_limit": "",
        "coupon_series": series.pk,
        "active": "on",
        **fields,
    }


def test_the_admin_creates_a_reward_on_record(staff_client, org):
    program = ProgramFactory(organization=org)
    series = CouponSeriesFactory(organization=org)

    response = staff_client.post(
        reverse("admin:loyalty_pointsreward_add"), form(program, series, stock="10")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    reward = PointsReward.objects.get()
    assert (reward.name, reward.points_cost, reward.stock) == ("Free coffee", 150, 10)
    assert ConfigurationChange.objects.filter(subject="points reward", action="created").exists()


def test_the_admin_names_the_wrong_field(staff_client, org):
    program = ProgramFactory(organization=org)
    series = CouponSeriesFactory(organization=org)

    response = staff_client.post(
        reverse("admin:loyalty_pointsreward_add"), form(program, series, points_cost="0")
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["points_cost"]
    assert not PointsReward.objects.exists()


def test_the_admin_changes_a_reward_through_the_service(staff_client, org):
    reward = PointsRewardFactory(program=ProgramFactory(organization=org), points_cost=100)
    url = reverse("admin:loyalty_pointsreward_change", args=[reward.pk])
    data = form(reward.program, reward.coupon_series, points_cost="250")
    del data["program"]

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    changed = ConfigurationChange.objects.get(subject="points reward", action="changed")
    assert changed.changes["points_cost"] == [100, 250]


def test_redemptions_cannot_be_added_in_the_admin(staff_client, org):
    response = staff_client.get(reverse("admin:loyalty_pointsrewardredemption_add"))
    assert response.status_code == 403
    listing = staff_client.get(reverse("admin:loyalty_pointsrewardredemption_changelist"))
    assert listing.status_code == 200
