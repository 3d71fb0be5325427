"""Every route of the API, walked with another organization's ids: each is a 404, and no list
shows another organization's rows. Query counts of lists and details stay fixed."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from crm.actors import SYSTEM
from customers.models import ExtendedFieldDefinition
from loyalty.models import CouponSeries
from loyalty.services.coupons import coupon_issue
from loyalty.services.points import points_award
from loyalty.services.stamps import stamps_add
from tests.crm.factories import StoreFactory
from tests.customers.factories import (
    ChannelFactory,
    CustomerFactory,
    IdentifierFactory,
    StatusLabelFactory,
)
from tests.loyalty.factories import (
    CustomerCardFactory,
    EnrollmentFactory,
    PointsRewardFactory,
    RewardFactory,
    TransactionFactory,
    TransactionLineFactory,
)

pytestmark = pytest.mark.django_db
MARK = "globexsecret"
BODIES = {
    ("post", "/api/v1/transactions/{transaction_id}/returns/"): {
        "external_id": "R-1",
        "occurred_at": "2026-06-16T12:00:00Z",
        "amount": "1.00",
    },
    ("post", "/api/v1/cards/{code}/redeem/"): {"reward_id": 1},
    ("post", "/api/v1/cards/{code}/stamps/"): {"stamps": 1},
    ("post", "/api/v1/customers/{customer_id}/cards/"): {"stamp_card_id": 1},
    ("post", "/api/v1/customers/{customer_id}/channels/"): {"type": "email", "value": "x@y.co"},
    ("post", "/api/v1/customers/{customer_id}/identifiers/"): {
        "source": "INSTORE",
        "type": "cuid",
        "value": "x",
    },
    ("post", "/api/v1/customers/{customer_id}/points/"): {
        "program_id": 1,
        "action": "award",
        "points": 1,
    },
}


def organization_data(org, mark):
    """A row of everything the API serves, showing `mark` wherever a list would show it."""
    customer = CustomerFactory(organization=org, first_name=mark, email=f"{mark}@example.com")
    identifier = IdentifierFactory(source_account__customer=customer, value=f"{mark}-id")
    channel = ChannelFactory(customer=customer, value=f"{mark}@channel.example.com")
    enrollment = EnrollmentFactory(customer=customer, program__name=f"{mark} programme")
    points_award(organization=org, enrollment=enrollment, points=5, reason=mark, actor=SYSTEM)
    card = CustomerCardFactory(customer=customer, stamp_card__name=f"{mark} card")
    reward = RewardFactory(stamp_card=card.stamp_card, name=f"{mark} reward")
    stamps_add(organization=org, card=card, stamps=1, reason=mark, actor=SYSTEM)
    store = StoreFactory(organization=org, code=f"{mark}.till", name=mark)
    field = ExtendedFieldDefinition.objects.create(
        organization=org, name=f"{mark}_field", data_type="string"
    )
    status_label = StatusLabelFactory(organization=org, name=f"{mark}-label")
    series = CouponSeries.objects.create(organization=org, description=mark)
    coupon = coupon_issue(organization=org, series=series, customer=customer, actor=SYSTEM).coupon
    points_reward = PointsRewardFactory(
        program=enrollment.program, coupon_series=series, name=f"{mark} points reward"
    )
    purchase = TransactionFactory(customer=customer, external_id=f"{mark}-purchase")
    TransactionLineFactory(transaction=purchase, sku=f"{mark}-sku")
    return {
        "purchase": purchase,
        "customer": customer,
        "identifier": identifier,
        "channel": channel,
        "program": enrollment.program,
        "card": card,
        "reward": reward,
        "store": store,
        "field": field,
        "status_label": status_label,
        "coupon": coupon,
        "points_reward": points_reward,
    }


def path_values(path: str, data: dict) -> dict:
    """The other organization's ids for each parameter of `path`."""
    first = path.split("/")[3]
    by_collection = {
        "customers": data["customer"].public_id,
        "stores": data["store"].pk,
        "programs": data["program"].pk,
        "stamp-cards": data["card"].stamp_card_id,
        "extended-fields": data["field"].pk,
        "status-labels": data["status_label"].pk,
        "transactions": data["purchase"].pk,
    }
    values = {
        "customer_id": data["customer"].public_id,
        "code": data["card"].code,
        "program_id": data["program"].pk,
        "reward_id": data["points_reward"].pk,
        "transaction_id": data["purchase"].pk,
    }
    if first == "coupons":
        values["code"] = data["coupon"].code
    if "/identifiers/" in path:
        values["id"] = data["identifier"].pk
    elif "/channels/" in path:
        values["id"] = data["channel"].pk
    else:
        values["id"] = by_collection.get(first)
    return values


def operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in schema["paths"].items():
        for method in methods:
            if method in {"get", "post", "patch", "put", "delete"}:
                yield method, path


def test_every_route_hides_another_organizations_rows(api, org, other_org):
    organization_data(org, "acmevisible")
    theirs = organization_data(other_org, MARK)
    walked = 0
    for method, path in operations():
        params = re.findall(r"{(\w+)}", path)
        if params:
            values = path_values(path, theirs)
            url = path.format(**values)
            body = BODIES.get((method, path), {})
            response = getattr(api, method)(url, body, format="json")
            assert response.status_code == 404, (method, url, response.content)
        elif method == "get":
            response = api.get(path)
            assert response.status_code == 200, path
            assert MARK not in response.content.decode().lower(), path
        walked += 1
    assert walked >= 35


def test_another_organizations_ids_in_a_body_are_not_found(api, org, other_org):
    mine = organization_data(org, "acmevisible")
    theirs = organization_data(other_org, MARK)
    customer = mine["customer"].public_id

    def post(url, body):
        return api.post(url, body, format="json")

    assert (
        post(
            f"/api/v1/customers/{customer}/cards/", {"stamp_card_id": theirs["card"].stamp_card_id}
        ).status_code
        == 404
    )
    assert (
        post(
            f"/api/v1/cards/{mine['card'].code}/redeem/", {"reward_id": theirs["reward"].pk}
        ).json()["code"]
        == "reward_unknown"
    )
    assert (
        post(
            f"/api/v1/customers/{customer}/points/",
            {"program_id": theirs["program"].pk, "action": "award", "points": 1},
        ).json()["code"]
        == "not_enrolled"
    )
    assert (
        post(
            "/api/v1/coupons/", {"series_id": theirs["coupon"].series_id, "customer_id": customer}
        ).status_code
        == 404
    )
    assert (
        post("/api/v1/customers/", {"enrollments": [{"program_id": theirs["program"].pk}]}).json()[
            "code"
        ]
        == "program_unknown"
    )
    assert post("/api/v1/customers/", {"store": theirs["store"].code}).json()["code"] == (
        "store_unknown"
    )


# --- query counts ------------------------------------------------------------------------------


def count_queries(django_assert_max_num_queries, call, limit):
    call()  # the first call of a minute also records the key's use
    with django_assert_max_num_queries(limit) as captured:
        response = call()
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_customer_list_runs_the_same_queries_for_any_page(
    api, org, django_assert_max_num_queries
):
    CustomerFactory.create_batch(2, organization=org)
    few = count_queries(django_assert_max_num_queries, lambda: api.get("/api/v1/customers/"), 2)
    CustomerFactory.create_batch(60, organization=org)
    many = count_queries(
        django_assert_max_num_queries, lambda: api.get("/api/v1/customers/?page_size=50"), 2
    )
    assert few == many


def test_the_customer_detail_runs_the_same_queries_however_much_it_shows(
    api, org, django_assert_max_num_queries
):
    def rich_customer(n):
        customer = CustomerFactory(organization=org)
        for _ in range(n):
            IdentifierFactory(source_account__customer=customer)
            ChannelFactory(customer=customer)
            EnrollmentFactory(customer=customer)
            card = CustomerCardFactory(customer=customer)
            RewardFactory(stamp_card=card.stamp_card)
        return customer

    small, large = rich_customer(1), rich_customer(8)
    counts = [
        count_queries(
            django_assert_max_num_queries,
            lambda c=customer: api.get(f"/api/v1/customers/{c.public_id}/"),
            2,
        )
        for customer in (small, large)
    ]
    assert counts[0] == counts[1]


def test_other_lists_run_a_fixed_number_of_queries(api, org, django_assert_max_num_queries):
    data = organization_data(org, "acme")
    customer = data["customer"].public_id
    lists = [
        "/api/v1/programs/",
        "/api/v1/stamp-cards/",
        "/api/v1/stores/",
        "/api/v1/coupons/",
        "/api/v1/extended-fields/",
        "/api/v1/status-labels/",
        f"/api/v1/customers/{customer}/identifiers/",
        f"/api/v1/customers/{customer}/channels/",
        f"/api/v1/customers/{customer}/points/",
        f"/api/v1/customers/{customer}/cards/",
    ]
    before = {
        url: count_queries(django_assert_max_num_queries, lambda u=url: api.get(u), 4)
        for url in lists
    }
    organization_data(org, "acmemore")
    for _ in range(5):
        card = CustomerCardFactory(customer=data["customer"])
        RewardFactory(stamp_card=card.stamp_card)
        IdentifierFactory(source_account__customer=data["customer"])
        ChannelFactory(customer=data["customer"])
    after = {
        url: count_queries(django_assert_max_num_queries, lambda u=url: api.get(u), 4)
        for url in lists
    }
    assert after == before
