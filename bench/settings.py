"""The product's settings, plus what the benchmarks need: the plain baseline view and a
Server-Timing header with the time each request took inside the application."""

from crm.config.settings import *  # noqa: F403
from crm.config.settings import MIDDLEWARE

ROOT_URLCONF = "bench.urls"
MIDDLEWARE = ["bench.timing.ServerTimingMiddleware", *MIDDLEWARE]
