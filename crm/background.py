"""Background jobs: how they are enqueued, retried, and kept while the broker is down.

With BACKGROUND_INLINE a job runs in the web process once the caller's transaction commits. Without
it, `enqueue` writes the job to PendingJob in the caller's transaction, so the job exists exactly
when the work that asked for it does; once that commits the job is handed to the broker and its
row deleted. A job the broker did not take stays in the table and `pending_jobs_send` (the beat
runs it every minute; also `manage.py send_pending_jobs`) sends it later. A job can therefore run
twice (sent, then its row not deleted), never zero times: each task tolerates a second run.

Tasks retry with exponential backoff on errors that pass (the database or the broker
unreachable); an error in their input is logged and the job dropped by the task itself.
"""

import logging
from datetime import timedelta

import kombu.exceptions
import redis
from celery import current_app, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from crm.models import PendingJob
from crm.outages import Outage

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    kombu.exceptions.OperationalError,
    redis.ConnectionError,
    redis.TimeoutError,
)
PUBLISH_ERRORS = (kombu.exceptions.OperationalError, redis.RedisError, OSError)
# One quick second try: a broker that is down stays down for longer than a request should wait.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.1,
    "interval_step": 0,
    "interval_max": 0.1,
}
# Jobs younger than this are still being sent by the request that wrote them.
SWEEP_AFTER = timedelta(seconds=30)

broker_outage = Outage("The broker", "background jobs are kept in the database until it is back")


def background_task(function=None, /, *, name: str | None = None):
    """A Celery task that retries with exponential backoff (1 s, 2 s, 4 s … at most 10 minutes,
    jittered) while the database or the broker cannot be reached, five times at most.

    `name` keeps a task's registered name when its function moves: queued jobs carry it."""
    decorate = shared_task(
        name=name,
        autoretry_for=TRANSIENT_ERRORS,
        retry_backoff=True,
        retry_backoff_max=600,
        retry_jitter=True,
        max_retries=5,
    )
    return decorate if function is None else decorate(function)


def background_mode() -> str:
    if settings.BACKGROUND_INLINE:
        return (
            "Background jobs run inline, in this process, after each commit (BACKGROUND_INLINE=1)"
        )
    return "Background jobs go to the Celery broker at REDIS_URL (BACKGROUND_INLINE=0)"


def enqueue(task, *args) -> None:
    """Run `task(*args)` in the background once the current transaction commits, so that it
    sees what the caller wrote; the job is kept in the database until the broker has it."""
    if settings.BACKGROUND_INLINE:
        # The caller's work is committed: a job that fails is logged, not turned into its error.
        transaction.on_commit(lambda: task.delay(*args), robust=True)
        return
    job = PendingJob.objects.create(task=task.name, args=list(args))
    transaction.on_commit(lambda: _send_after_commit(job), robust=True)


def _send_after_commit(job: PendingJob) -> None:
    if broker_outage.worth_trying() and _publish(job):
        job.delete()


def _publish(job: PendingJob) -> bool:
    try:
        current_app.send_task(
            job.task, args=job.args, retry=True, retry_policy=PUBLISH_RETRY_POLICY
        )
    except PUBLISH_ERRORS as error:
        broker_outage.failed(error)
        PendingJob.objects.filter(pk=job.pk).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:255]
        )
        return False
    broker_outage.succeeded()
    return True


def pending_jobs_send(*, limit: int = 1000) -> int:
    """Hand the jobs the broker did not take to it, oldest first; the number sent.

    Stops at the first failure: the broker is still down, and the rest wait for the next sweep.
    Concurrent sweeps skip each other's rows.
    """
    sent = 0
    with transaction.atomic():
        jobs = (
            PendingJob.objects.select_for_update(skip_locked=True)
            .filter(created_at__lte=timezone.now() - SWEEP_AFTER)
            .order_by("pk")[:limit]
        )
        for job in jobs:
            if not _publish(job):
                break
            job.delete()
            sent += 1
    if sent:
        logger.info("Sent %s background jobs kept while the broker was unreachable", sent)
    return sent
