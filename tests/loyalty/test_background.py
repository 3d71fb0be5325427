"""Loyalty work in the background: in process without a broker, and on a real Celery worker."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from crm import celery_app
from crm.actors import Actor
from crm.errors import ErrorCode
from customers.inputs import CustomerInput, EnrollmentInput
from customers.services import customer_update
from loyalty.models import CustomerCard, Enrollment
from loyalty.tasks import card_links_send_task, points_award_task, stamps_add_task
from tests.assertions import refused
from tests.customers.factories import CustomerFactory
from tests.loyalty.factories import CustomerCardFactory, EnrollmentFactory, ProgramFactory

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


@pytest.mark.django_db
def test_tasks_run_in_process_without_a_broker(org):
    card = CustomerCardFactory(customer__organization=org)
    enrollment = EnrollmentFactory(customer__organization=org)
    stamps_add_task.delay(card.pk, 2, "visit", CLERK.as_dict())
    points_award_task.delay(enrollment.pk, 40, "purchase", "order-9", CLERK.as_dict())
    card_links_send_task.delay(card.pk, CLERK.as_dict())
    card.refresh_from_db()
    enrollment.refresh_from_db()
    assert (card.stamps, enrollment.points_balance) == (2, 40)
    assert card.deliveries.count() == 2


@pytest.mark.django_db
def test_a_job_that_no_longer_applies_is_dropped(org, caplog):
    card = CustomerCardFactory(customer__organization=org, status="inactive")
    stamps_add_task.delay(card.pk, 2, "visit", CLERK.as_dict())
    card.refresh_from_db()
    assert card.stamps == 0
    assert "not added" in caplog.text


# --- a real worker -----------------------------------------------------------------------------


def redis_reachable() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def worker_queue(settings):
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
    celery_app.conf.update(broker_url=REDIS_URL, task_always_eager=False, task_default_queue=queue)
    forget_broker_connections()
    try:
        yield queue
    finally:
        celery_app.conf.update(saved)
        forget_broker_connections()
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
        print(output)  # shown when the test fails


def forget_broker_connections():
    """Make the app connect afresh, to the broker now configured."""
    celery_app.pool.force_close_all()
    celery_app._after_fork()  # drops the cached connection and producer pools


def eventually(check, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.postgres_only(
    reason="the worker process must share the test database, and SQLite's is in memory"
)
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_completes_background_stamps_points_and_enrolments(worker_queue):
    card = CustomerCardFactory()
    org = card.organization
    enrollment = EnrollmentFactory(customer__organization=org)
    program = ProgramFactory(organization=org, welcome_points=5)

    stamps_add_task.delay(card.pk, 3, "visit", CLERK.as_dict())
    points_award_task.delay(enrollment.pk, 40, "purchase", "order-1", CLERK.as_dict())
    result = customer_update(
        customer=card.customer,
        data=CustomerInput(enrollments=[EnrollmentInput(program.pk, points=20)]),
        actor=CLERK,
        loyalty_in_background=True,
    )
    # The update returned before the enrolment was made: that is the worker's job.
    assert result.side_effects == []

    assert eventually(lambda: CustomerCard.objects.get(pk=card.pk).stamps == 3)
    assert eventually(lambda: Enrollment.objects.get(pk=enrollment.pk).points_balance == 40)
    assert eventually(
        lambda: Enrollment.objects.filter(
            customer=card.customer, program=program, points_balance=25
        ).exists()
    )
