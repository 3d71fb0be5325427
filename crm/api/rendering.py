"""Fast output: hot serializers render plain dicts themselves.

Their declared fields describe the output for the OpenAPI schema (and schemathesis checks every
response against it), but `to_representation` builds the dict directly: instantiating DRF's nested
field trees for every row costs more than the rest of a request.
"""

import datetime as dt

from django.utils import timezone


def iso(value: dt.datetime | None) -> str | None:
    """A date-time as DRF renders it: ISO 8601 in the current time zone, UTC as 'Z'."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def as_row(obj) -> dict:
    """A model instance's column values by name (or the dict given): one renderer serves
    both rows the ORM loaded and rows of a document the database built."""
    return obj if isinstance(obj, dict) else vars(obj)
