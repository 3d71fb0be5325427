"""What every API call shares: API keys, problem details, request ids, idempotency, throttling."""

import datetime as dt
from types import SimpleNamespace

import pytest
import redis
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from crm.api import throttling
from crm.models import ApiKey, IdempotencyRecord
from crm.services import api_key_create, api_key_revoke
from crm.tasks import idempotency_keys_purge_task
from customers.inputs import CustomerInput
from customers.membership import registration as customer_services
from customers.models import Customer
from tests.concurrency import errors, run_concurrently
from tests.crm.factories import OrganizationFactory, StaffFactory
from tests.loyalty.test_background import REDIS_URL, redis_reachable

pytestmark = pytest.mark.django_db
CUSTOMERS = "/api/v1/customers/"


def problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["request_id"] == response["X-Request-ID"]
    assert body["instance"] == response.wsgi_request.path
    assert {"type", "title", "detail"} <= set(body)
    return body


# --- authentication ----------------------------------------------------------------------------


def test_without_a_key_the_api_asks_for_one(client):
    response = client.get(CUSTOMERS)
    problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer", "Bearer a b", "Token abc"])
def test_a_wrong_key_is_refused(client, header, api_key):
    response = client.get(CUSTOMERS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


def test_a_key_is_stored_as_a_digest_and_marks_its_use(api, api_key):
    record, raw_key = api_key
    assert raw_key not in str(ApiKey.objects.values().get(pk=record.pk))
    assert api.get(CUSTOMERS).status_code == 200
    record.refresh_from_db()
    assert record.last_used_at is not None


def test_a_revoked_key_stops_at_once(api, api_key):
    assert api.get(CUSTOMERS).status_code == 200
    api_key_revoke(api_key=api_key[0])
    problem(api.get(CUSTOMERS), 401, "authentication_failed")


def test_staff_can_use_the_browsable_api(staff_client):
    response = staff_client.get(CUSTOMERS, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Customer" in response.content


def test_an_account_without_an_organization_is_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "", "pw"))
    problem(client.get(CUSTOMERS), 403, "permission_denied")


# --- problem details and request ids -----------------------------------------------------------


def test_every_error_has_the_same_shape(api):
    problem(api.get("/api/v1/no-such-thing/"), 404, "not_found")
    problem(api.get(CUSTOMERS + "cust_nope/"), 404, "not_found")
    problem(api.put(CUSTOMERS, {}, format="json"), 405, "method_not_allowed")
    problem(api.post(CUSTOMERS, "{not json", content_type="application/json"), 400, "parse_error")


def test_validation_errors_name_each_field_by_its_path(api):
    body = problem(
        api.post(
            CUSTOMERS,
            {
                "birthday": "yesterday",
                "source_accounts": [{"source": "INSTORE", "identifiers": [{"type": "email"}]}],
            },
            format="json",
        ),
        400,
        "validation_error",
    )
    fields = {error["field"]: error["code"] for error in body["errors"]}
    assert fields == {
        "birthday": "invalid",
        "source_accounts[0].identifiers[0].value": "required",
    }


def test_service_errors_keep_their_code_and_field(api):
    api.post(CUSTOMERS, {"email": "a@example.com"}, format="json")
    body = problem(
        api.post(CUSTOMERS, {"email": "A@example.com"}, format="json"), 409, "email_taken"
    )
    assert body["errors"] == [{"field": "email", "code": "email_taken", "message": body["detail"]}]


def test_an_unexpected_failure_is_a_problem_too(api, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(customer_services, "customer_register", crash)
    body = problem(api.post(CUSTOMERS, {}, format="json"), 500, "server_error")
    assert "boom" not in body["detail"]


def test_a_request_id_comes_back_on_every_response(api, client):
    assert len(api.get(CUSTOMERS)["X-Request-ID"]) == 32
    assert api.get(CUSTOMERS, HTTP_X_REQUEST_ID="trace-123")["X-Request-ID"] == "trace-123"
    assert api.get(CUSTOMERS, HTTP_X_REQUEST_ID="bad id!")["X-Request-ID"] != "bad id!"
    assert client.get("/admin/login/")["X-Request-ID"]


# --- idempotency -------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_response(api):
    first = api.post(
        CUSTOMERS, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    again = api.post(
        CUSTOMERS, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_the_same_key_with_another_body_is_refused(api):
    api.post(CUSTOMERS, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    response = api.post(
        CUSTOMERS, {"email": "b@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    problem(response, 422, "idempotency_key_reused")
    assert Customer.objects.count() == 1


def test_keys_belong_to_one_api_key(api, org):
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(organization=org, name='2')[1]}")
    api.post(CUSTOMERS, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    response = other.post(
        CUSTOMERS, {"email": "b@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 201


def test_a_refusal_is_replayed_but_a_server_error_is_not_kept(api, monkeypatch):
    api.post(CUSTOMERS, {"email": "a@example.com"}, format="json")
    refused = api.post(
        CUSTOMERS, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert refused.status_code == 409
    assert (
        api.post(
            CUSTOMERS, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k2"
        ).json()
        == refused.json()
    )

    monkeypatch.setattr(customer_services, "customer_register", lambda **kw: 1 / 0)
    api.post(CUSTOMERS, {"email": "c@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="k3")
    assert not IdempotencyRecord.objects.filter(key="k3").exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_racing_retries_do_the_work_once():
    org = OrganizationFactory()
    raw_key = api_key_create(organization=org, name="race")[1]

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        response = client.post(
            CUSTOMERS, {"email": "race@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="same"
        )
        return response.status_code, response.json()

    outcomes = run_concurrently(8, post)

    assert errors(outcomes) == []
    assert {status for status, _ in outcomes} == {201}
    assert len({body["customer"]["id"] for _, body in outcomes}) == 1
    assert Customer.objects.filter(organization=org).count() == 1


# --- throttling --------------------------------------------------------------------------------


@pytest.fixture
def slow_org(org):
    org.api_requests_per_minute = 3
    org.save()
    cache.clear()
    return org


def test_each_key_is_held_to_its_organizations_rate(api, slow_org):
    for _ in range(3):
        assert api.get(CUSTOMERS).status_code == 200
    response = api.get(CUSTOMERS)
    problem(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 61

    other = APIClient()
    other.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(organization=slow_org, name='2')[1]}"
    )
    assert other.get(CUSTOMERS).status_code == 200


def rate_limit(response) -> tuple[int, int, int]:
    return tuple(int(response[f"RateLimit-{name}"]) for name in ("Limit", "Remaining", "Reset"))


def test_every_answer_says_what_is_left_of_the_window(api, slow_org, monkeypatch):
    # 15.5 seconds before a window ends: Reset rounds it up.
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: 1000 * 60 + 44.5))
    assert rate_limit(api.get(CUSTOMERS)) == (3, 2, 16)
    refused = api.post(CUSTOMERS, {"email": "not an email"}, format="json")
    assert refused.status_code == 400
    assert rate_limit(refused) == (3, 1, 16)
    assert rate_limit(api.get(f"{CUSTOMERS}cust_missing/")) == (3, 0, 16)
    throttled = api.get(CUSTOMERS)
    problem(throttled, 429, "throttled")
    assert rate_limit(throttled) == (3, 0, 16)


def test_a_caller_the_limiter_did_not_count_gets_no_rate_headers(client):
    response = client.get(CUSTOMERS)
    assert response.status_code == 401
    assert "RateLimit-Limit" not in response


def test_the_vendor_doors_send_the_rate_headers_too(api_key, slow_org):
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=slow_org.slug, HTTP_X_APP_TOKEN=api_key[1])
    response = client.get("/compat/voucherify/v1/customers")
    assert response.status_code == 200
    assert rate_limit(response)[:2] == (3, 2)
    assert 1 <= rate_limit(response)[2] <= 60


def test_the_default_rate_is_600_a_minute(org):
    assert OrganizationFactory.build().api_requests_per_minute == 600


def test_the_count_is_shared_through_redis(api, slow_org, settings):
    if not redis_reachable():
        pytest.skip(f"needs a Redis server at {REDIS_URL}")
    settings.REDIS_URL = REDIS_URL
    shared = redis.Redis.from_url(REDIS_URL)
    for key in shared.keys("crm:throttle:*"):
        shared.delete(key)
    first = api.get(CUSTOMERS)
    [key] = shared.keys("crm:throttle:*")
    shared.incr(key)  # another process's request
    second = api.get(CUSTOMERS)
    # Another process sees the same count: it lives in Redis, not in this process.
    assert int(shared.get(key)) == 3
    # The headers report the count Redis gave, the other process's request included.
    assert [rate_limit(response)[1] for response in (first, second)] == [2, 0]
    assert 0 < shared.ttl(shared.keys("crm:throttle:*")[0]) <= 61
    for key in shared.keys("crm:throttle:*"):
        shared.delete(key)


def test_staff_of_another_organization_see_none_of_it(client, org):
    StaffFactory(username="outsider", organization=OrganizationFactory(slug="else"))
    customer_services.customer_register(
        organization=org, data=CustomerInput(email="mine@example.com")
    )
    client.login(username="outsider", password="pw")
    assert client.get(CUSTOMERS).json()["results"] == []


def test_idempotency_records_are_kept_48_hours(api):
    api.post(CUSTOMERS, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    api.post(CUSTOMERS, {"email": "b@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - dt.timedelta(hours=49)
    )
    idempotency_keys_purge_task.delay()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
