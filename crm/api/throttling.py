"""Requests a minute per API key (or staff member), at the organization's rate.

Each key gets a fixed one-minute window; a refused request is told when it ends. With REDIS_URL
the counts live in Redis, shared by every worker process (INCR is atomic; one round trip a
request). Without it they are kept per process, as is everything in the embedded default.
"""

import time
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as local_cache
from rest_framework.throttling import BaseThrottle

WINDOW_SECONDS = 60


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def count_request(key: str) -> int:
    """This window's count for `key`, the current request included."""
    if settings.REDIS_URL:
        pipeline = _redis(settings.REDIS_URL).pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, WINDOW_SECONDS + 1, nx=True)
        return pipeline.execute()[0]
    if local_cache.add(key, 1, timeout=WINDOW_SECONDS + 1):
        return 1
    return local_cache.incr(key)


class OrganizationRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        organization = getattr(request.user, "organization", None)
        if organization is None:
            return True  # refused anyway: the permission check comes first
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        count = count_request(f"crm:throttle:{request.user.pk}:{window}")
        self.retry_after = (window + 1) * WINDOW_SECONDS - now
        return count <= organization.api_requests_per_minute

    def wait(self) -> float:
        return self.retry_after
