"""Idempotency-Key on POST: a retry with the same key and body gets the first response again,
without the work being done twice, even when the retries race.

The first request records the key (a unique constraint settles races), does the work and stores its
response; a retry replays it, and one that arrives while the first is still working waits for it.
The same key with another body is refused (422). Keys belong to one API key and are kept at least
24 hours. A 5xx response is not kept, so the request can be retried.
"""

import contextlib
import hashlib
import json
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from crm.models import ApiKey, IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEPT_FOR = timedelta(hours=48)
ABANDONED_AFTER = timedelta(minutes=5)
WAIT_SECONDS = 30


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."


class KeyInUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."


class Replay(Exception):
    def __init__(self, record: IdempotencyRecord):
        self.response = Response(record.response_body, status=record.status_code)
        self.response["Idempotent-Replayed"] = "true"


def request_hash(request) -> str:
    body = request.body
    with contextlib.suppress(ValueError):  # the same JSON however it is spaced or ordered
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(
        request.method.encode() + request.path.encode() + b"\n" + body
    ).hexdigest()


def begin(request) -> IdempotencyRecord | None:
    """The record this request will complete; raises Replay when an earlier one already did."""
    key = request.headers.get(HEADER)
    api_key = request.auth
    if request.method != "POST" or not key or not isinstance(api_key, ApiKey):
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError({HEADER: [f"At most {MAX_KEY_LENGTH} characters."]})
    digest = request_hash(request)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    api_key=api_key, key=key, request_hash=digest
                )
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if record is None:
            continue  # deleted meanwhile (abandoned, or its request failed): take it over
        if record.request_hash != digest:
            raise KeyReused()
        if record.completed_at is not None:
            raise Replay(record)
        if timezone.now() - record.created_at > ABANDONED_AFTER:
            IdempotencyRecord.objects.filter(pk=record.pk, completed_at__isnull=True).delete()
            continue
        if time.monotonic() > deadline:
            raise KeyInUse()
        time.sleep(0.05)


def complete(record: IdempotencyRecord, response: Response) -> None:
    if response.status_code >= 500:
        record.delete()
        return
    record.status_code = response.status_code
    record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
    record.completed_at = timezone.now()
    record.save(update_fields=["status_code", "response_body", "completed_at"])


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEPT_FOR).delete()
    return deleted
