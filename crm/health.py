"""`/healthz`: whether the database, the cache and the broker answer, for load balancers and
monitoring.

The product serves as long as the database answers (200); without it, it cannot (503). A failing
cache or broker is reported but keeps the answer at 200: the rate limiter then counts per process
and background jobs wait in the database (docs/reliability.md). Each check gives up within the
Redis socket timeouts, so a probe costs a few milliseconds when all is well and about a second
when Redis hangs.
"""

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from crm.models import PendingJob

CACHE_PROBE_KEY = "crm:healthz"


def ok(**detail) -> dict:
    return {"status": "ok", **detail}


def failing(error: Exception) -> dict:
    return {"status": "failing", "reason": f"{type(error).__name__}: {error}"[:200]}


def database_check() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return failing(error)
    return ok()


def cache_check() -> dict:
    try:
        cache.set(CACHE_PROBE_KEY, "ok", timeout=10)
        cache.get(CACHE_PROBE_KEY)
    except redis.RedisError as error:
        return failing(error)
    return ok()


def broker_check() -> dict:
    if settings.BACKGROUND_INLINE:
        return ok(detail="jobs run in the web process (BACKGROUND_INLINE)")
    try:
        pending = PendingJob.objects.count()
    except DatabaseError:
        pending = None
    try:
        with redis.Redis.from_url(
            settings.CELERY_BROKER_URL, **settings.REDIS_SOCKET_TIMEOUTS
        ) as broker:
            broker.ping()
    except redis.RedisError as error:
        return {**failing(error), "pending_jobs": pending}
    return ok(pending_jobs=pending)


@never_cache
@require_GET
def healthz(request):
    checks = {"database": database_check(), "cache": cache_check(), "broker": broker_check()}
    failures = [name for name, check in checks.items() if check["status"] != "ok"]
    if "database" in failures:
        overall, status = "failing", 503
    else:
        overall, status = ("degraded" if failures else "ok"), 200
    return JsonResponse({"status": overall, **checks}, status=status)
