"""Who may call which route of /api/v1/: API keys everything of their organization; staff signed in
to the admin what their permissions allow, as in the admin and the console.

The routes are enumerated from the URL resolver, so a route added without an entry in the tables
below fails these tests."""

import pytest
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from crm.actors import SYSTEM
from crm.api.permissions import ROUTE_PERMISSIONS
from customers.models import ExtendedFieldDefinition
from loyalty.models import CouponSeries
from loyalty.services.coupons import coupon_issue
from loyalty.services.points import points_award
from loyalty.services.stamps import stamps_add
from tests.crm.factories import StaffFactory, StoreFactory
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
    StampCardFactory,
    TransactionFactory,
    TransactionLineFactory,
)

pytestmark = pytest.mark.django_db

WRITES = {"post", "put", "patch", "delete"}
ROLES = ("agent", "supervisor", "superuser", "superuser_without_organization", "api_key")
BOTH_GROUPS = {"agent", "supervisor", "superuser", "api_key"}
SUPERVISORS = {"supervisor", "superuser", "api_key"}
CONFIGURATION = {"superuser", "api_key"}

# Who may make each write, by route name and method; everyone else gets a 403.
ALLOWED = {
    ("customer-list", "post"): BOTH_GROUPS,
    ("customer-detail", "patch"): BOTH_GROUPS,
    ("customer-detail", "delete"): SUPERVISORS,
    ("customer-batch", "post"): BOTH_GROUPS,
    ("customer-identifiers", "post"): BOTH_GROUPS,
    ("customer-identifier", "patch"): BOTH_GROUPS,
    ("customer-identifier", "delete"): BOTH_GROUPS,
    ("customer-channels", "post"): BOTH_GROUPS,
    ("customer-channel", "patch"): BOTH_GROUPS,
    ("customer-channel", "delete"): BOTH_GROUPS,
    ("customer-points", "post"): SUPERVISORS,
    ("customer-cards", "post"): BOTH_GROUPS,
    ("card-stamps", "post"): BOTH_GROUPS,
    ("card-redeem", "post"): BOTH_GROUPS,
    ("card-send-links", "post"): BOTH_GROUPS,
    ("customer-reward-redeem", "post"): BOTH_GROUPS,
    ("coupon-list", "post"): BOTH_GROUPS,
    ("coupon-redeem", "post"): BOTH_GROUPS,
    ("transaction-list", "post"): SUPERVISORS,
    ("transaction-batch", "post"): SUPERVISORS,
    ("transaction-returns", "post"): CONFIGURATION,
    ("program-simulate", "post"): BOTH_GROUPS,
    ("store-list", "post"): CONFIGURATION,
    ("store-detail", "patch"): CONFIGURATION,
    ("extended-field-list", "post"): CONFIGURATION,
    ("extended-field-detail", "patch"): CONFIGURATION,
    ("extended-field-detail", "delete"): CONFIGURATION,
    ("status-label-list", "post"): CONFIGURATION,
    ("status-label-detail", "patch"): CONFIGURATION,
    ("status-label-detail", "delete"): CONFIGURATION,
}


def api_routes(resolver=None, prefix=""):
    """(route name, path, {method: action}) of every viewset route under /api/v1/."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from api_routes(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            actions = getattr(pattern.callback, "actions", None)
            if actions and "format" not in pattern.pattern.regex.groupindex:
                yield pattern.name, route, actions


def operations(methods: set[str]) -> list[tuple[str, str]]:
    return sorted(
        {
            (name, method)
            for name, _, actions in api_routes()
            for method in actions
            if method in methods
        }
    )


WRITE_ROUTES = operations(WRITES)
READ_ROUTES = operations({"get"})


def test_the_tables_name_every_route_and_nothing_else():
    assert set(ALLOWED) == set(WRITE_ROUTES)
    listed = {
        (name, method.lower()) for name, methods in ROUTE_PERMISSIONS.items() for method in methods
    }
    assert listed == set(WRITE_ROUTES) | set(READ_ROUTES)


@pytest.fixture
def world(org):
    """One of each thing a route acts on, in `org`."""
    customer = CustomerFactory(organization=org)
    enrollment = EnrollmentFactory(customer=customer)
    card = CustomerCardFactory(customer=customer)
    reward = RewardFactory(stamp_card=card.stamp_card, stamp_cost=1)
    stamps_add(organization=org, card=card, stamps=1, actor=SYSTEM)
    series = CouponSeries.objects.create(organization=org, description="Ten off")
    # Funded in a programme of its own: the points route's refusal is seen on `enrollment`.
    funded = EnrollmentFactory(customer=customer)
    points_award(organization=org, enrollment=funded, points=1000, actor=SYSTEM)
    return {
        "points_reward": PointsRewardFactory(
            program=funded.program, coupon_series=series, points_cost=1
        ),
        "customer": customer,
        "identifier": IdentifierFactory(source_account__customer=customer, type="cuid"),
        "channel": ChannelFactory(customer=customer),
        "enrollment": enrollment,
        "card": card,
        "reward": reward,
        "other_stamp_card": StampCardFactory(organization=org),
        "series": series,
        "coupon": coupon_issue(organization=org, series=series, customer=customer, actor=SYSTEM),
        "store": StoreFactory(organization=org),
        "field": ExtendedFieldDefinition.objects.create(
            organization=org, name="colour", data_type="enum", allowed_values=["red"]
        ),
        "status_label": StatusLabelFactory(organization=org, name="vip"),
        "purchase": TransactionLineFactory(
            transaction=TransactionFactory(customer=customer)
        ).transaction,
    }


def request_for(name: str, method: str, world: dict) -> tuple[str, dict]:
    """The URL and a valid body of the write."""
    customer = f"/api/v1/customers/{world['customer'].public_id}"
    card = f"/api/v1/cards/{world['card'].code}"
    return {
        ("customer-list", "post"): ("/api/v1/customers/", {"email": "new@example.com"}),
        ("customer-detail", "patch"): (f"{customer}/", {"first_name": "Changed"}),
        ("customer-detail", "delete"): (f"{customer}/", {}),
        ("customer-batch", "post"): (
            "/api/v1/customers/batch/",
            {"customers": [{"email": "batch@example.com"}]},
        ),
        ("customer-identifiers", "post"): (
            f"{customer}/identifiers/",
            {"source": "INSTORE", "type": "cuid", "value": "new-cuid"},
        ),
        ("customer-identifier", "patch"): (
            f"{customer}/identifiers/{world['identifier'].pk}/",
            {"value": "changed-cuid"},
        ),
        ("customer-identifier", "delete"): (
            f"{customer}/identifiers/{world['identifier'].pk}/",
            {},
        ),
        ("customer-channels", "post"): (
            f"{customer}/channels/",
            {"type": "email", "value": "new-channel@example.com"},
        ),
        ("customer-channel", "patch"): (
            f"{customer}/channels/{world['channel'].pk}/",
            {"subscribed": False},
        ),
        ("customer-channel", "delete"): (f"{customer}/channels/{world['channel'].pk}/", {}),
        ("customer-points", "post"): (
            f"{customer}/points/",
            {
                "program_id": world["enrollment"].program_id,
                "action": "award",
                "points": 5,
                "reason": "Goodwill",
            },
        ),
        ("customer-cards", "post"): (
            f"{customer}/cards/",
            {"stamp_card_id": world["other_stamp_card"].pk},
        ),
        ("card-stamps", "post"): (f"{card}/stamps/", {"stamps": 1}),
        ("card-redeem", "post"): (f"{card}/redeem/", {"reward_id": world["reward"].pk}),
        ("card-send-links", "post"): (f"{card}/send-links/", {}),
        ("customer-reward-redeem", "post"): (
            f"{customer}/rewards/{world['points_reward'].pk}/redeem/",
            {},
        ),
        ("coupon-list", "post"): (
            "/api/v1/coupons/",
            {"series_id": world["series"].pk, "customer_id": world["customer"].public_id},
        ),
        ("coupon-redeem", "post"): (f"/api/v1/coupons/{world['coupon'].coupon.code}/redeem/", {}),
        ("transaction-list", "post"): (
            "/api/v1/transactions/",
            {
                "customer": world["customer"].public_id,
                "external_id": "P-1",
                "occurred_at": "2026-06-15T12:00:00Z",
                "currency": "EUR",
                "lines": [{"sku": "A", "quantity": 1, "unit_price": "9.99"}],
            },
        ),
        ("transaction-batch", "post"): (
            "/api/v1/transactions/batch/",
            {
                "transactions": [
                    {
                        "customer": world["customer"].public_id,
                        "external_id": "P-2",
                        "occurred_at": "2026-06-15T12:00:00Z",
                        "currency": "EUR",
                        "lines": [{"sku": "A", "quantity": 1, "unit_price": "9.99"}],
                    }
                ]
            },
        ),
        ("transaction-returns", "post"): (
            f"/api/v1/transactions/{world['purchase'].pk}/returns/",
            {"external_id": "R-1", "occurred_at": "2026-06-16T12:00:00Z", "amount": "1.00"},
        ),
        ("program-simulate", "post"): (
            f"/api/v1/programs/{world['enrollment'].program_id}/simulate/",
            {"currency": "EUR", "lines": [{"sku": "A", "quantity": 1, "unit_price": "9.99"}]},
        ),
        ("store-list", "post"): ("/api/v1/stores/", {"code": "new.till", "name": "New"}),
        ("store-detail", "patch"): (f"/api/v1/stores/{world['store'].pk}/", {"name": "Renamed"}),
        ("extended-field-list", "post"): (
            "/api/v1/extended-fields/",
            {"name": "shoe_size", "data_type": "integer"},
        ),
        ("extended-field-detail", "patch"): (
            f"/api/v1/extended-fields/{world['field'].pk}/",
            {"allowed_values": ["red", "blue"]},
        ),
        ("extended-field-detail", "delete"): (f"/api/v1/extended-fields/{world['field'].pk}/", {}),
        ("status-label-list", "post"): (
            "/api/v1/status-labels/",
            {"name": "fraud", "status": "fraud_confirmed"},
        ),
        ("status-label-detail", "patch"): (
            f"/api/v1/status-labels/{world['status_label'].pk}/",
            {"may_spend": False},
        ),
        ("status-label-detail", "delete"): (
            f"/api/v1/status-labels/{world['status_label'].pk}/",
            {},
        ),
    }[(name, method)]


def client_as(role: str, org, api_key) -> APIClient:
    client = APIClient()
    if role == "api_key":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
        return client
    if role in ("agent", "supervisor"):
        user = StaffFactory(username=role, organization=org, all_permissions=False, password=None)
        user.user_permissions.clear()
        user.groups.add(Group.objects.get(name=role))
    else:
        user = StaffFactory(
            username=role,
            organization=org if role == "superuser" else None,
            is_superuser=True,
            all_permissions=False,
            password=None,
        )
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method"), WRITE_ROUTES)
def test_each_write_is_allowed_to_the_roles_that_may_make_it(
    name, method, role, org, api_key, world
):
    url, body = request_for(name, method, world)
    response = getattr(client_as(role, org, api_key), method)(url, body, format="json")
    if role in ALLOWED[(name, method)]:
        assert 200 <= response.status_code < 300, response.content
    else:
        assert response.status_code == 403, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "permission_denied"


def test_a_refused_write_changes_nothing(org, api_key, world):
    customer = world["customer"]
    agent = client_as("agent", org, api_key)
    url, body = request_for("customer-points", "post", world)

    response = agent.post(url, body, format="json")

    assert response.status_code == 403
    assert "customers.adjust_points" in response.json()["detail"]
    world["enrollment"].refresh_from_db()
    assert world["enrollment"].points_balance == 0
    assert agent.delete(f"/api/v1/customers/{customer.public_id}/").status_code == 403
    assert type(customer).objects.filter(pk=customer.pk).exists()


def read_url(name: str, world: dict) -> str:
    customer = f"/api/v1/customers/{world['customer'].public_id}"
    return {
        "customer-list": "/api/v1/customers/",
        "customer-detail": f"{customer}/",
        "customer-identifiers": f"{customer}/identifiers/",
        "customer-channels": f"{customer}/channels/",
        "customer-points": f"{customer}/points/",
        "customer-cards": f"{customer}/cards/",
        "card-detail": f"/api/v1/cards/{world['card'].code}/",
        "coupon-list": "/api/v1/coupons/",
        "coupon-detail": f"/api/v1/coupons/{world['coupon'].coupon.code}/",
        "store-list": "/api/v1/stores/",
        "store-detail": f"/api/v1/stores/{world['store'].pk}/",
        "program-list": "/api/v1/programs/",
        "program-detail": f"/api/v1/programs/{world['enrollment'].program_id}/",
        "program-earning-rules": (
            f"/api/v1/programs/{world['enrollment'].program_id}/earning-rules/"
        ),
        "transaction-list": "/api/v1/transactions/",
        "transaction-detail": f"/api/v1/transactions/{world['purchase'].pk}/",
        "customer-transactions": f"{customer}/transactions/",
        "program-rewards": f"/api/v1/programs/{world['enrollment'].program_id}/rewards/",
        "stamp-card-list": "/api/v1/stamp-cards/",
        "stamp-card-detail": f"/api/v1/stamp-cards/{world['card'].stamp_card_id}/",
        "extended-field-list": "/api/v1/extended-fields/",
        "extended-field-detail": f"/api/v1/extended-fields/{world['field'].pk}/",
        "status-label-list": "/api/v1/status-labels/",
        "status-label-detail": f"/api/v1/status-labels/{world['status_label'].pk}/",
    }[name]


@pytest.mark.parametrize(("name", "method"), READ_ROUTES)
def test_reads_need_the_view_permission(name, method, org, api_key, world):
    url = read_url(name, world)
    agent = client_as("agent", org, api_key)
    assert agent.get(url).status_code == 200, url

    nobody = StaffFactory(
        username="no-group", organization=org, all_permissions=False, password=None
    )
    nobody.user_permissions.clear()
    client = APIClient()
    client.force_login(nobody)
    response = client.get(url)
    assert response.status_code == 403, url
    assert response.json()["code"] == "permission_denied"


def test_a_superuser_without_an_organization_is_refused_everywhere(org, api_key, world):
    root = client_as("superuser_without_organization", org, api_key)
    response = root.get("/api/v1/customers/")
    assert response.status_code == 403
    assert response.json()["detail"] == "This account does not belong to an organization."
