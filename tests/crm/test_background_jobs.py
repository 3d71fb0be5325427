"""Background jobs are explicit about running inline, and a job enqueued while the broker is down
is kept in the database, in the transaction that asked for it, and sent when the broker is back."""

import datetime as dt
import logging
import os

import pytest
import redis
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from crm import background, celery_app
from crm.actors import Actor
from crm.models import PendingJob
from crm.outages import Outage
from customers.inputs import CustomerInput, EnrollmentInput
from customers.membership.update import customer_update
from loyalty.models import Enrollment
from tests.crm.test_redis_outage import CLOSED_PORT_URL
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import ProgramFactory
from tests.loyalty.test_background import REDIS_URL, redis_reachable, use_broker

pytestmark = pytest.mark.django_db
CLERK = Actor("staff", "7 clerk")


@pytest.fixture
def broker(settings, monkeypatch):
    """Jobs go through a broker (not inline); point it with the returned function."""
    settings.BACKGROUND_INLINE = False
    monkeypatch.setattr(background, "broker_outage", Outage("The broker", "jobs kept"))
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager")}
    celery_app.conf.task_always_eager = False
    yield use_broker
    celery_app.conf.update(saved)
    use_broker(saved["broker_url"])


@pytest.fixture
def live_queue():
    """A queue of its own on the test Redis; its length is the number of jobs sent."""
    if not redis_reachable():
        pytest.skip(f"needs a Redis server at {REDIS_URL} (CRM_TEST_REDIS_URL)")
    queue = f"crm-test-{os.getpid()}-{timezone.now().timestamp()}"
    saved = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    server = redis.Redis.from_url(REDIS_URL)
    yield lambda: server.llen(queue)
    celery_app.conf.task_default_queue = saved
    server.delete(queue)


def enrol_later(customer, program):
    customer_update(
        customer=customer,
        data=CustomerInput(enrollments=[EnrollmentInput(program.pk)]),
        actor=CLERK,
        loyalty_in_background=True,
    )


@pytest.fixture
def customer_and_program(org):
    return CustomerFactory(organization=org), ProgramFactory(organization=org)


def test_with_the_broker_up_a_job_is_sent_at_commit_and_not_kept(
    broker, live_queue, customer_and_program, django_capture_on_commit_callbacks
):
    broker(REDIS_URL)
    with django_capture_on_commit_callbacks(execute=True):
        enrol_later(*customer_and_program)
        assert PendingJob.objects.count() == 1  # written with the update, before the commit
        assert live_queue() == 0
    assert live_queue() == 1
    assert not PendingJob.objects.exists()


def test_a_job_enqueued_while_the_broker_is_down_is_kept_and_sent_later(
    broker, live_queue, customer_and_program, django_capture_on_commit_callbacks, caplog
):
    broker(CLOSED_PORT_URL)
    with django_capture_on_commit_callbacks(execute=True), caplog.at_level(logging.WARNING):
        enrol_later(*customer_and_program)  # no error: the update is done, the job kept
        enrol_later(
            CustomerFactory(organization=customer_and_program[0].organization),
            customer_and_program[1],
        )
    jobs = list(PendingJob.objects.order_by("pk"))
    assert [job.task for job in jobs] == ["customers.tasks.enrol_task"] * 2
    assert jobs[0].attempts == 1
    assert "Connection refused" in jobs[0].last_error
    assert jobs[1].attempts == 0  # the outage is known: not tried again at once
    assert caplog.text.count("The broker unreachable") == 1
    assert not Enrollment.objects.exists()

    broker(REDIS_URL)  # the broker is back
    call_command("send_pending_jobs")
    assert live_queue() == 0  # too recent: perhaps still being sent by the request
    PendingJob.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    call_command("send_pending_jobs")
    assert live_queue() == 2
    assert not PendingJob.objects.exists()


def test_a_job_of_a_rolled_back_change_is_neither_kept_nor_sent(
    broker, live_queue, customer_and_program
):
    broker(REDIS_URL)

    def update_then_fail():
        with transaction.atomic():
            enrol_later(*customer_and_program)
            raise RuntimeError("the caller's work failed")

    with pytest.raises(RuntimeError):
        update_then_fail()
    assert not PendingJob.objects.exists()
    assert live_queue() == 0


def test_the_sweep_stops_at_the_first_refusal(broker, customer_and_program):
    broker(CLOSED_PORT_URL)
    for _ in range(3):
        PendingJob.objects.create(
            task="customers.tasks.enrol_task", args=[1, [], [], CLERK.as_dict()]
        )
    PendingJob.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    assert background.pending_jobs_send() == 0
    assert sorted(PendingJob.objects.values_list("attempts", flat=True)) == [0, 0, 1]


def test_sending_pending_jobs_needs_a_broker(settings):
    settings.BACKGROUND_INLINE = True
    with pytest.raises(CommandError, match="BACKGROUND_INLINE=1"):
        call_command("send_pending_jobs")
