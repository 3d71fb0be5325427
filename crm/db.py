"""Database helpers shared by the apps."""

import datetime as dt
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from django.db import connection, models
from django.db.models import Q
from django.utils.dateparse import parse_date, parse_datetime

T = TypeVar("T")


class _PreparingCursor(psycopg.Cursor):
    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


@contextmanager
def prepared_cursor():
    """A cursor whose statements PostgreSQL prepares once per connection and then reuses.

    For the few constant, key-lookup queries on every request's path (authentication, the
    customer document): planning them again each time costs more than running them. The ORM
    binds parameters client-side and never prepares; these statements bind server-side, which is
    safe here because their plans (unique-index lookups) do not depend on the values. They are
    logged and counted like any query. On other databases it is an ordinary cursor.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    # What connection.cursor() does first: a connection lost since the last request is replaced
    # (CONN_HEALTH_CHECKS) instead of failing this request.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = _PreparingCursor(connection.connection)
    cursor = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    try:
        yield cursor
    finally:
        raw.close()


def as_datetime(value) -> dt.datetime | None:
    """An aware date-time from a raw query or a JSON document: PostgreSQL gives aware datetimes
    or ISO text, SQLite naive UTC datetimes or text."""
    if value is None:
        return None
    parsed = value if isinstance(value, dt.datetime) else parse_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return parse_date(value)


def read_ahead(rows: Iterator[T]) -> Iterator[T]:
    """`rows`, computed one step ahead by another thread (with its own connection) while the
    caller works on the current one. On PostgreSQL outside a transaction only; elsewhere, as is.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield from rows
        return
    ahead: queue.Queue = queue.Queue(maxsize=1)
    done = object()

    def produce() -> None:
        try:
            for item in rows:
                ahead.put((item, None))
        except BaseException as error:
            ahead.put((None, error))
        finally:
            ahead.put((done, None))
            connection.close()

    threading.Thread(target=produce, name="read-ahead", daemon=True).start()
    while True:
        item, error = ahead.get()
        if error is not None:
            raise error
        if item is done:
            return
        yield item


def choices_check(
    field: str, choices: type[models.TextChoices], name: str
) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)
