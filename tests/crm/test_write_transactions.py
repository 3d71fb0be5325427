"""A write through the API takes effect once: its idempotency record, its work and its stored
response commit together or not at all, whatever fails in between."""

import threading

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import connection, connections
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from crm.errors import DomainError, ErrorCode
from crm.models import IdempotencyRecord
from crm.services import api_key_create
from loyalty.api import serializers as loyalty_serializers
from loyalty.models import PointsTransaction, StampTransaction
from loyalty.services import stamps as loyalty_services
from tests.concurrency import errors, run_concurrently
from tests.crm.factories import OrganizationFactory
from tests.loyalty.factories import CustomerCardFactory, EnrollmentFactory


def stamps_url(card) -> str:
    return f"/api/v1/cards/{card.code}/stamps/"


def stamp(client, card, key="stamp-1"):
    return client.post(stamps_url(card), {"stamps": 2}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def terminate_own_backend() -> None:
    """Kill this thread's database session from another connection, as a failover or an
    operator's pg_terminate_backend would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()
    own = connections["default"]
    other = type(own)(own.settings_dict.copy(), alias="terminator")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    finally:
        other.close()


def stamps_then(monkeypatch, failure):
    """Make the stamp service do its work, then fail as `failure` says."""
    stamps_add = loyalty_services.stamps_add

    def stamps_add_then_fail(**kwargs):
        result = stamps_add(**kwargs)
        failure()
        return result

    monkeypatch.setattr(loyalty_services, "stamps_add", stamps_add_then_fail)


# --- on every database -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_refusal_after_some_work_undoes_it_and_is_replayed(api, org, monkeypatch):
    card = CustomerCardFactory(customer__organization=org)

    def refuse():
        raise DomainError(ErrorCode.INACTIVE, "Refused after the stamps were written.")

    stamps_then(monkeypatch, refuse)
    refused = stamp(api, card)
    monkeypatch.undo()
    again = stamp(api, card)

    assert refused.status_code == again.status_code == 422
    assert again.json() == refused.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Content-Type"] == refused["Content-Type"] == "application/problem+json"
    assert not StampTransaction.objects.filter(card=card).exists()
    card.refresh_from_db()
    assert card.stamps == 0


@pytest.mark.django_db
@pytest.mark.parametrize("step", ["serializer", "renderer"])
def test_a_failure_after_the_effect_leaves_neither_effect_nor_record(api, org, monkeypatch, step):
    enrollment = EnrollmentFactory(customer__organization=org)
    url = f"/api/v1/customers/{enrollment.customer.public_id}/points/"
    body = {"program_id": enrollment.program_id, "action": "award", "points": 10}

    def crash(*args, **kwargs):
        raise RuntimeError("lost after the work")

    if step == "serializer":
        monkeypatch.setattr(loyalty_serializers.PointsResultSerializer, "to_representation", crash)
    else:
        render = JSONRenderer.render

        def render_all_but_points(self, data, *args, **kwargs):
            if isinstance(data, dict) and "balance" in data:
                crash()
            return render(self, data, *args, **kwargs)

        monkeypatch.setattr(JSONRenderer, "render", render_all_but_points)
    failed = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="award-1")

    assert failed.status_code == 500
    assert not PointsTransaction.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    retried = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="award-1")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert PointsTransaction.objects.get().points == 10


# --- on PostgreSQL: a real connection lost mid-request -----------------------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_mid_work_leaves_nothing_and_the_retry_works_once(monkeypatch):
    org = OrganizationFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(organization=org, name='k')[1]}")
    card = CustomerCardFactory(customer__organization=org)
    stamps_then(monkeypatch, terminate_own_backend)

    failed = stamp(client, card)

    assert failed.status_code >= 500
    monkeypatch.undo()
    assert not IdempotencyRecord.objects.exists()
    assert not StampTransaction.objects.filter(card=card).exists()
    retried, again = stamp(client, card), stamp(client, card)
    assert retried.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == retried.json()
    assert StampTransaction.objects.filter(card=card).count() == 1
    card.refresh_from_db()
    assert card.stamps == 2


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_requests_after_a_lost_connection_succeed():
    org = OrganizationFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(organization=org, name='k')[1]}")
    card = CustomerCardFactory(customer__organization=org)
    assert stamp(client, card, key="before").status_code == 200

    for request in (
        lambda: client.get(f"/api/v1/cards/{card.code}/"),
        lambda: stamp(client, card, key="after"),
    ):
        terminate_own_backend()  # the persistent connection dies between two requests
        # What the WSGI handler signals at the start of each request (the test client does not).
        request_started.send(sender=WSGIHandler)
        assert request().status_code == 200

    assert StampTransaction.objects.filter(card=card).count() == 2


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_racing_retries_when_the_first_loses_its_connection_do_the_work_once(monkeypatch):
    org = OrganizationFactory()
    raw_key = api_key_create(organization=org, name="race")[1]
    card = CustomerCardFactory(customer__organization=org)
    first_call = threading.Lock()
    stamps_add = loyalty_services.stamps_add

    def stamps_add_losing_the_first_connection(**kwargs):
        result = stamps_add(**kwargs)
        if first_call.acquire(blocking=False):
            terminate_own_backend()
        return result

    monkeypatch.setattr(loyalty_services, "stamps_add", stamps_add_losing_the_first_connection)

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        response = stamp(client, card, key="same")
        return response.status_code, response.json()

    outcomes = run_concurrently(8, post)

    assert errors(outcomes) == []
    # The one whose connection was lost fails; one of the others does the work, the rest replay it.
    assert sorted(status for status, _ in outcomes) == [200] * 7 + [500]
    bodies = [body for status, body in outcomes if status == 200]
    assert all(body == bodies[0] for body in bodies), bodies
    assert StampTransaction.objects.filter(card=card).count() == 1
    card.refresh_from_db()
    assert card.stamps == 2
