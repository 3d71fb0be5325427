"""The points rewards endpoints: the catalogue and redeeming a reward."""

import pytest

from crm.actors import SYSTEM
from loyalty.points_rewards import PointsRewardRedemption
from loyalty.services.points import points_award
from tests.crm.factories import OrganizationFactory
from tests.loyalty.factories import EnrollmentFactory, PointsRewardFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def redeem_url(customer, reward):
    return f"/api/v1/customers/{customer.public_id}/rewards/{reward.pk}/redeem/"


def funded_enrollment(org, points=500):
    enrollment = EnrollmentFactory(customer__organization=org)
    points_award(organization=org, enrollment=enrollment, points=points, actor=SYSTEM)
    return enrollment


def test_the_catalogue_lists_a_programmes_rewards_cheapest_first(
    api, org, django_assert_max_num_queries
):
    program = ProgramFactory(organization=org)
    for cost in (300, 100, 200, 400, 500, 600):
        PointsRewardFactory(program=program, points_cost=cost, stock=5)
    PointsRewardFactory(program=ProgramFactory(organization=org))

    with django_assert_max_num_queries(6):
        response = api.get(f"/api/v1/programs/{program.pk}/rewards/")

    assert response.status_code == 200, response.content
    rows = response.json()
    assert [row["points_cost"] for row in rows] == [100, 200, 300, 400, 500, 600]
    assert rows[0]["stock"] == 5
    assert rows[0]["coupon_description"]


def test_another_organizations_programme_is_not_found(api, org):
    program = ProgramFactory(organization=OrganizationFactory())
    assert api.get(f"/api/v1/programs/{program.pk}/rewards/").status_code == 404


def test_redeeming_answers_the_redemption_the_balance_and_the_coupon_code(api, org):
    enrollment = funded_enrollment(org)
    reward = PointsRewardFactory(program=enrollment.program, points_cost=120)

    response = api.post(redeem_url(enrollment.customer, reward), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    redemption = PointsRewardRedemption.objects.get()
    assert body["balance"] == 380
    assert body["redemption"]["points"] == 120
    assert body["redemption"]["reward_id"] == reward.pk
    assert body["redemption"]["coupon_code"] == redemption.coupon.code
    assert body["side_effects"][0]["type"] == "coupon"


def test_a_retry_with_the_same_idempotency_key_redeems_once(api, org):
    enrollment = funded_enrollment(org)
    reward = PointsRewardFactory(program=enrollment.program, points_cost=100)
    url = redeem_url(enrollment.customer, reward)

    first = api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="redeem-1")
    again = api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="redeem-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert PointsRewardRedemption.objects.count() == 1
    enrollment.refresh_from_db()
    assert enrollment.points_balance == 400


@pytest.mark.parametrize(
    ("fields", "points", "status", "code"),
    [
        ({"stock": 0}, 500, 422, "out_of_stock"),
        ({"active": False}, 500, 422, "inactive"),
        ({"points_cost": 600}, 500, 422, "insufficient_points"),
    ],
)
def test_refusals_are_problems(api, org, fields, points, status, code):
    enrollment = funded_enrollment(org, points)
    reward = PointsRewardFactory(program=enrollment.program, **fields)
    response = api.post(redeem_url(enrollment.customer, reward), format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_the_limit_reached_is_a_problem(api, org):
    enrollment = funded_enrollment(org)
    reward = PointsRewardFactory(program=enrollment.program, per_customer_limit=1)
    api.post(redeem_url(enrollment.customer, reward), format="json")
    response = api.post(redeem_url(enrollment.customer, reward), format="json")
    assert (response.status_code, response.json()["code"]) == (422, "redemption_limit_reached")


def test_another_organizations_reward_is_not_found(api, org):
    enrollment = funded_enrollment(org)
    reward = PointsRewardFactory()
    response = api.post(redeem_url(enrollment.customer, reward), format="json")
    assert (response.status_code, response.json()["code"]) == (404, "reward_unknown")
