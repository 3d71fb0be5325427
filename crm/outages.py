"""Remembering that a service (Redis, the broker) is down, so that requests do not each wait for it.

After a failure the service is left alone for RETRY_SECONDS; the first caller after that tries it
again, and a success ends the outage. The outage is logged once when it starts and once more every
WARNING_SECONDS while it lasts, never once per request; its end is logged too.
"""

import logging
import threading
from time import monotonic

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
WARNING_SECONDS = 60.0


class Outage:
    def __init__(self, service: str, consequence: str):
        self.service = service
        self.consequence = consequence
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._warned_at: float | None = None

    def worth_trying(self) -> bool:
        """Whether to call the service now: it is up, or its retry time has come."""
        return self._down_since is None or monotonic() >= self._retry_at

    def failed(self, error: Exception) -> None:
        now = monotonic()
        with self._lock:
            if self._down_since is None:
                self._down_since = now
            self._retry_at = now + RETRY_SECONDS
            warn = self._warned_at is None or now - self._warned_at >= WARNING_SECONDS
            if warn:
                self._warned_at = now
            down_for = now - self._down_since
        if warn:
            logger.warning(
                "%s unreachable for %.0f s (%s): %s",
                self.service,
                down_for,
                error,
                self.consequence,
            )

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            down_since, self._down_since, self._warned_at = self._down_since, None, None
        if down_since is not None:
            logger.info("%s reachable again after %.0f s", self.service, monotonic() - down_since)
