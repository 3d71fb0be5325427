"""With Redis unreachable or hanging, the API keeps serving: the limiter counts per process and
says so once, not once a request; it uses Redis again when Redis answers."""

import contextlib
import logging
import os
import socket
import threading
import time
from urllib.parse import urlparse

import pytest
import redis
from rest_framework.test import APIClient

from crm import outages
from crm.api import throttling
from crm.models import ApiKey
from crm.outages import Outage
from crm.services import api_key_create
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


class RedisProxy:
    """A fixed port that leads to the test Redis while up, and refuses connections while down:
    Redis going away and coming back at the same address."""

    def __init__(self, target_url):
        target = urlparse(target_url)
        self.target = (target.hostname, target.port or 6379)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"redis://127.0.0.1:{self.port}{target.path}"
        self.sockets = []

    def up(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.sockets.append(listener)
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self):
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets = []

    def _accept(self, listener):
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                server = socket.create_connection(self.target)
                self.sockets += [client, server]
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)


@pytest.fixture
def redis_proxy(redis_at):
    if not redis_reachable():
        pytest.skip(f"needs a Redis server at {REDIS_URL} (CRM_TEST_REDIS_URL)")
    proxy = RedisProxy(REDIS_URL)
    redis_at(proxy.url)
    yield proxy
    proxy.down()


@pytest.fixture
def counted_api(org):
    """An API client whose counts in the shared Redis are its own: the key's id is unique to this
    test process, since other processes' tests count in the same Redis."""
    api_key, raw_key = api_key_create(organization=org, name="Counted")
    ApiKey.objects.filter(pk=api_key.pk).update(id=10**9 + os.getpid())
    shared = redis.Redis.from_url(REDIS_URL)
    pattern = f"crm:throttle:api-key-{10**9 + os.getpid()}:*"
    shared.delete(*shared.keys(pattern) or ["none"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    yield client, lambda: [int(shared.get(key)) for key in shared.keys(pattern)]
    shared.delete(*shared.keys(pattern) or ["none"])


def test_the_limiter_uses_redis_again_by_itself_once_it_is_back(
    redis_proxy, counted_api, caplog, monkeypatch
):
    proxy, (api, shared_counts) = redis_proxy, counted_api
    monkeypatch.setattr(outages, "RETRY_SECONDS", 0)

    proxy.up()
    assert api.get(CUSTOMERS).status_code == 200
    assert shared_counts() == [1]
    proxy.down()  # Redis goes away: the open connection breaks, new ones are refused
    with caplog.at_level(logging.INFO, logger="crm.outages"):
        assert [api.get(CUSTOMERS).status_code for _ in range(3)] == [200] * 3
        assert shared_counts() == [1]  # counted in this process meanwhile
        proxy.up()  # back, at the same address
        assert api.get(CUSTOMERS).status_code == 200
    assert shared_counts() == [2]
    assert len(outage_warnings(caplog)) == 1
    assert "Redis (rate limits) reachable again" in caplog.text


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
