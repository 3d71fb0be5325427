"""Requests a minute per API key (or staff member), at the organization's rate.

Each key gets a fixed one-minute window; every answer says how much of it is left (the
RateLimit-* headers, from the count just made, so at no further cost) and a refused request is
told when it ends. With REDIS_URL the counts live in Redis, shared by every worker process (INCR
is atomic; one round trip a request). Without it they are kept per process, as is everything in
the embedded default.

When Redis cannot be reached the limiter counts per process instead, so the API keeps serving and
a runaway client is still held to the rate in each process (see docs/reliability.md); it tries
Redis again a few seconds later, and uses it as soon as it answers.
"""

import math
import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import BaseThrottle

from crm.outages import Outage

WINDOW_SECONDS = 60

redis_outage = Outage("Redis (rate limits)", "counting requests per process meanwhile")
local_counts = LocMemCache(
    "crm-throttle", {"TIMEOUT": WINDOW_SECONDS + 1, "OPTIONS": {"MAX_ENTRIES": 100_000}}
)


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, **settings.REDIS_SOCKET_TIMEOUTS)


def _count_in_redis(key: str) -> int:
    pipeline = _redis(settings.REDIS_URL).pipeline(transaction=False)
    pipeline.incr(key)
    pipeline.expire(key, WINDOW_SECONDS + 1, nx=True)
    return pipeline.execute()[0]


def _count_in_process(key: str) -> int:
    if local_counts.add(key, 1):
        return 1
    return local_counts.incr(key)


def count_request(key: str) -> int:
    """This window's count for `key`, the current request included."""
    if settings.REDIS_URL and redis_outage.worth_trying():
        try:
            count = _count_in_redis(key)
        except redis.RedisError as error:
            redis_outage.failed(error)
        else:
            redis_outage.succeeded()
            return count
    return _count_in_process(key)


@dataclass(frozen=True)
class RateLimit:
    """The caller's window as the limiter counted it for this request."""

    limit: int
    count: int
    seconds_left: float

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "RateLimit-Reset": str(math.ceil(self.seconds_left)),
        }


class OrganizationRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        organization = getattr(request.user, "organization", None)
        if organization is None:
            return True  # refused anyway: the permission check comes first
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        count = count_request(f"crm:throttle:{request.user.pk}:{window}")
        self.retry_after = (window + 1) * WINDOW_SECONDS - now
        request.rate_limit = RateLimit(
            organization.api_requests_per_minute, count, self.retry_after
        )
        return count <= organization.api_requests_per_minute

    def wait(self) -> float:
        return self.retry_after


class RateLimitHeaders:
    """For DRF views throttled by OrganizationRateThrottle: every answer, a refusal included,
    carries the RateLimit-* headers of the request's count."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        rate_limit = getattr(request, "rate_limit", None)
        if rate_limit is not None:
            for name, value in rate_limit.headers().items():
                response[name] = value
        return response
