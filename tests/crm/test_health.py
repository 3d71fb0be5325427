"""`/healthz`: unauthenticated JSON on the database, the cache and the broker; 503 only when the
database fails, since without it nothing can be served."""

import pytest
from django.db import OperationalError

from crm import health
from tests.crm.test_redis_outage import CLOSED_PORT_URL, redis_cache
from tests.loyalty.test_background import REDIS_URL, redis_reachable

pytestmark = pytest.mark.django_db


def test_all_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": {"status": "ok"},
        "cache": {"status": "ok"},
        "broker": {"status": "ok", "detail": "jobs run in the web process (BACKGROUND_INLINE)"},
    }
    assert "no-cache" in response["Cache-Control"]


def test_with_redis_as_cache_and_broker(client, settings):
    if not redis_reachable():
        pytest.skip(f"needs a Redis server at {REDIS_URL} (CRM_TEST_REDIS_URL)")
    settings.CACHES = redis_cache(REDIS_URL)
    settings.BACKGROUND_INLINE = False
    settings.CELERY_BROKER_URL = REDIS_URL
    body = client.get("/healthz").json()
    assert body == {
        "status": "ok",
        "database": {"status": "ok"},
        "cache": {"status": "ok"},
        "broker": {"status": "ok", "pending_jobs": 0},
    }


def test_redis_down_is_reported_and_the_product_still_serves(client, settings):
    settings.CACHES = redis_cache(CLOSED_PORT_URL)
    settings.BACKGROUND_INLINE = False
    settings.CELERY_BROKER_URL = CLOSED_PORT_URL
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("degraded", {"status": "ok"})
    for check in (body["cache"], body["broker"]):
        assert check["status"] == "failing"
        assert "Connection refused" in check["reason"]
    assert body["broker"]["pending_jobs"] == 0


class UnreachableDatabase:
    def cursor(self):
        raise OperationalError('connection to server at "db" failed: Connection refused')


def test_database_down_is_a_503(client, monkeypatch):
    monkeypatch.setattr(health, "connection", UnreachableDatabase())
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["database"]["status"] == "failing"
    assert "Connection refused" in body["database"]["reason"]
    assert body["cache"] == {"status": "ok"}


def test_probes_over_plain_http_are_not_redirected(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/admin/").status_code == 301  # everything else still goes to HTTPS


def test_only_get(client):
    assert client.post("/healthz").status_code == 405
