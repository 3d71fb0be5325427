"""With Redis unreachable or hanging, the API keeps serving: the limiter counts per process and
says so once, not once a request; it uses Redis again when Redis answers."""

import logging
import socket
import time

import pytest
import redis
from rest_framework.test import APIClient

from crm import outages
from crm.api import throttling
from crm.outages import Outage
from tests.loyalty.test_background import REDIS_URL, redis_reachable

CUSTOMERS = "/api/v1/customers/"
VOUCHERIFY_CUSTOMERS = "/compat/voucherify/v1/customers"
CLOSED_PORT_URL = "redis://127.0.0.1:6390/0"


def redis_cache(url):
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.fixture
def redis_at(settings, monkeypatch):
    """Point the cache and the limiter at `url`, with the limiter's outage memory fresh."""
    monkeypatch.setattr(throttling, "redis_outage", Outage("Redis (rate limits)", "per process"))

    def point(url):
        settings.REDIS_URL = url
        settings.CACHES = redis_cache(url)

    return point


@pytest.fixture
def dead_redis(redis_at):
    redis_at(CLOSED_PORT_URL)


@pytest.fixture
def voucherify(org, api_key):
    client = APIClient()
    client.credentials(HTTP_X_APP_ID=org.slug, HTTP_X_APP_TOKEN=api_key[1])
    return client


def outage_warnings(caplog):
    return [r for r in caplog.records if r.name == "crm.outages" and r.levelno == logging.WARNING]


def test_the_api_and_the_vendor_doors_keep_serving(dead_redis, api, voucherify, staff_client):
    assert api.get(CUSTOMERS).status_code == 200
    assert voucherify.get(VOUCHERIFY_CUSTOMERS).status_code == 200
    assert staff_client.get(CUSTOMERS).status_code == 200  # a staff session, in the database
    assert staff_client.get("/admin/").status_code == 200


def test_the_limiter_still_holds_each_key_to_its_rate_per_process(dead_redis, org, voucherify):
    org.api_requests_per_minute = 3
    org.save()
    codes = [voucherify.get(VOUCHERIFY_CUSTOMERS).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_the_outage_is_logged_once_not_once_a_request(dead_redis, api, caplog, monkeypatch):
    monkeypatch.setattr(outages, "RETRY_SECONDS", 0)  # try Redis on every request
    with caplog.at_level(logging.INFO, logger="crm.outages"):
        codes = {api.get(CUSTOMERS).status_code for _ in range(20)}
    assert codes == {200}
    [warning] = outage_warnings(caplog)
    assert "Redis (rate limits) unreachable" in warning.getMessage()
    assert "Connection refused" in warning.getMessage()


def test_the_warning_is_repeated_once_a_minute_while_the_outage_lasts(
    dead_redis, api, caplog, monkeypatch
):
    monkeypatch.setattr(outages, "RETRY_SECONDS", 0)
    clock = [1000.0]
    monkeypatch.setattr(outages, "monotonic", lambda: clock[0])
    with caplog.at_level(logging.INFO, logger="crm.outages"):
        for _ in range(4):
            api.get(CUSTOMERS)
            clock[0] += 25
    assert len(outage_warnings(caplog)) == 2  # at 0 s and at 75 s, none at 25 s and 50 s


def test_the_limiter_uses_redis_again_once_it_answers(redis_at, api, caplog, monkeypatch):
    if not redis_reachable():
        pytest.skip(f"needs a Redis server at {REDIS_URL} (CRM_TEST_REDIS_URL)")
    monkeypatch.setattr(outages, "RETRY_SECONDS", 0)
    redis_at(CLOSED_PORT_URL)
    api.get(CUSTOMERS)
    # Redis is back (here: the limiter's URL now leads to a running server).
    redis_at(REDIS_URL)
    shared = redis.Redis.from_url(REDIS_URL)
    key = "crm:throttle:*"
    for old in shared.keys(key):
        shared.delete(old)
    with caplog.at_level(logging.INFO, logger="crm.outages"):
        assert api.get(CUSTOMERS).status_code == 200
    assert [int(shared.get(k)) for k in shared.keys(key)] == [1]
    assert "reachable again" in caplog.text
    for old in shared.keys(key):
        shared.delete(old)


@pytest.fixture
def hanging_redis(redis_at):
    """A server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    redis_at(f"redis://127.0.0.1:{server.getsockname()[1]}/0")
    yield
    server.close()


def test_a_hanging_redis_delays_only_the_first_request_of_an_outage(hanging_redis, api):
    started = time.monotonic()
    assert api.get(CUSTOMERS).status_code == 200
    first = time.monotonic() - started
    started = time.monotonic()
    for _ in range(5):
        assert api.get(CUSTOMERS).status_code == 200
    rest = time.monotonic() - started
    assert 0.4 < first < 2  # the read timeout, then per-process counting
    assert rest < first  # while the outage lasts, Redis is not waited for
