"""Work in the background: in process without a broker, retried on passing errors, dropped when
it no longer applies, and done by a real Celery worker, also after a broker outage."""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import kombu.pools
import pytest
import redis
from django.db import OperationalError, connection
from django.utils import timezone

from crm import background, celery_app
from crm.actors import Actor
from crm.background import TRANSIENT_ERRORS, pending_jobs_send
from crm.errors import ErrorCode
from crm.models import PendingJob
from crm.outages import Outage
from customers.inputs import CustomerInput, EnrollmentInput, enrollment_as_dict
from customers.membership import update as customer_tasks
from customers.membership.update import customer_update, enrol_task
from loyalty.models import CustomerCard, Enrollment
from tests.assertions import refused
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import (
    EnrollmentFactory,
    ProgramFactory,
    StampCardFactory,
)

CLERK = Actor("staff", "7 clerk")
BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.mark.django_db
def test_enrolments_in_the_background_are_checked_now_and_made_after_commit(
    org, django_capture_on_commit_callbacks
):
    program = ProgramFactory(organization=org, welcome_points=10)
    customer = CustomerFactory(organization=org)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = customer_update(
            customer=customer,
            data=CustomerInput(enrollments=[EnrollmentInput(program.pk, points=75)]),
            actor=CLERK,
            loyalty_in_background=True,
        )
        assert not Enrollment.objects.exists()
    assert len(callbacks) == 1
    assert result.side_effects == []
    assert Enrollment.objects.get(customer=customer).points_balance == 85


@pytest.mark.django_db
def test_a_background_enrolment_that_cannot_happen_is_refused_at_once(org):
    program = ProgramFactory(organization=org)
    customer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=customer, program=program)
    with refused(ErrorCode.ALREADY_ENROLLED, "enrollments[0].program"):
        customer_update(
            customer=customer,
            data=CustomerInput(enrollments=[EnrollmentInput(program.pk)]),
            actor=CLERK,
            loyalty_in_background=True,
        )


PROJECT_TASKS = {
    "crm.tasks.idempotency_keys_purge_task",  # the beat, hourly
    "crm.tasks.pending_jobs_send_task",  # the beat, every minute
    "loyalty.tasks.points_expire_task",  # the beat, hourly
    "loyalty.tasks.tiers_renew_task",  # the beat, daily
    "loyalty.tasks.points_activate_task",  # the beat, hourly
    "customers.tasks.enrol_task",  # customer_update(loyalty_in_background=True)
}


def test_every_task_is_enqueued_by_a_door_or_the_beat_and_retries_passing_errors(settings):
    celery_app.loader.import_default_modules()  # autodiscovery: every tasks module
    project = {
        name: task
        for name, task in celery_app.tasks.items()
        if name.startswith(("crm.", "customers.", "loyalty."))
    }
    assert set(project) == PROJECT_TASKS
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert beat == PROJECT_TASKS - {"customers.tasks.enrol_task"}
    for task in project.values():
        assert set(task.autoretry_for) == set(TRANSIENT_ERRORS), task.name
        assert (task.retry_backoff, task.max_retries) == (True, 5), task.name


def enrolment_args(customer, program, points=0):
    return (
        customer.pk,
        [enrollment_as_dict(EnrollmentInput(program.pk, points=points))],
        [],
        CLERK.as_dict(),
    )


@pytest.mark.django_db
def test_a_job_is_retried_after_a_passing_database_error(org, monkeypatch):
    program = ProgramFactory(organization=org)
    customer = CustomerFactory(organization=org)
    calls = []

    def flaky_update(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return customer_update(**kwargs)

    monkeypatch.setattr(customer_tasks, "customer_update", flaky_update)
    enrol_task.apply(args=enrolment_args(customer, program, points=30), throw=False).get()
    assert len(calls) == 2
    assert Enrollment.objects.get(customer=customer).points_balance == 30


@pytest.mark.django_db
def test_a_job_that_no_longer_applies_is_logged_and_dropped(org, caplog):
    program = ProgramFactory(organization=org)
    customer = CustomerFactory(organization=org)
    EnrollmentFactory(customer=customer, program=program)  # made meanwhile
    enrol_task.apply(args=enrolment_args(customer, program)).get()
    assert Enrollment.objects.filter(customer=customer).count() == 1
    assert f"Enrolments of customer {customer.pk} not made" in caplog.text


# --- a real worker -----------------------------------------------------------------------------


def redis_reachable() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def worker_queue(settings, monkeypatch):
    """A Celery worker in its own process, on the test database, fed through Redis."""
    if not redis_reachable():
        pytest.skip(f"needs a Redis server at {REDIS_URL} (CRM_TEST_REDIS_URL)")
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    queue = f"crm-test-{uuid.uuid4().hex}"
    worker = subprocess.Popen(  # noqa: S603 - the project's own worker
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crm",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "CONN_MAX_AGE": "0",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    saved = {
        key: celery_app.conf[key]
        for key in ("broker_url", "task_always_eager", "task_default_queue")
    }
    settings.BACKGROUND_INLINE = False
    monkeypatch.setattr(background, "broker_outage", Outage("The broker", "jobs kept"))
    celery_app.conf.update(task_always_eager=False, task_default_queue=queue)
    use_broker(REDIS_URL)
    try:
        yield queue
    finally:
        celery_app.conf.update(saved)
        use_broker(saved["broker_url"])
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        print(output)  # shown when the test fails


def use_broker(url):
    """Make the app send to the broker at `url`, on fresh connections."""
    celery_app.conf.broker_url = url
    kombu.pools.reset()
    celery_app._after_fork()  # drops the app's cached connection and producer pools


def eventually(check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


WORKER_ONLY = pytest.mark.postgres_only(
    reason="the worker process must share the test database, and SQLite's is in memory"
)


@WORKER_ONLY
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_makes_background_enrolments_and_cards(worker_queue):
    customer = CustomerFactory()
    org = customer.organization
    program = ProgramFactory(organization=org, welcome_points=5)
    stamp_card = StampCardFactory(organization=org)

    result = customer_update(
        customer=customer,
        data=CustomerInput(
            enrollments=[EnrollmentInput(program.pk, points=20)], stamp_card_ids=[stamp_card.pk]
        ),
        actor=CLERK,
        loyalty_in_background=True,
    )
    # The update returned before the enrolment was made: that is the worker's job.
    assert result.side_effects == []

    assert eventually(
        lambda: Enrollment.objects.filter(
            customer=customer, program=program, points_balance=25
        ).exists()
    )
    assert eventually(
        lambda: CustomerCard.objects.filter(customer=customer, stamp_card=stamp_card).exists()
    )
    assert not PendingJob.objects.exists()


@WORKER_ONLY
@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_while_the_broker_is_down_is_done_once_it_is_back(worker_queue):
    customer = CustomerFactory()
    program = ProgramFactory(organization=customer.organization, welcome_points=5)

    use_broker("redis://127.0.0.1:6390/0")  # nothing listens there
    customer_update(
        customer=customer,
        data=CustomerInput(enrollments=[EnrollmentInput(program.pk)]),
        actor=CLERK,
        loyalty_in_background=True,
    )
    job = PendingJob.objects.get()
    assert (job.task, job.attempts) == ("customers.tasks.enrol_task", 1)

    use_broker(REDIS_URL)
    PendingJob.objects.update(created_at=timezone.now() - dt.timedelta(minutes=1))
    assert pending_jobs_send() == 1
    assert eventually(
        lambda: Enrollment.objects.filter(customer=customer, program=program).exists()
    )
    assert not PendingJob.objects.exists()
