"""Writes take effect once: one transaction per write, and Idempotency-Key for retries.

Every unsafe request (POST, PUT, PATCH, DELETE) runs in one database transaction. With an
Idempotency-Key, the key's record is inserted first in that transaction and the response is
stored in it just before it commits, so the record, the work and the response commit together or
not at all (as Stripe keeps its keys). A retry of a request that committed replays its response;
a retry of one that did not (a 5xx, a killed worker, a dropped connection) runs the work for the
first time. Nothing is ever left half-done to block a retry.

A request with the same key while the first is still working waits on the record's unique index
until the first commits (then it replays) or rolls back (then it does the work itself).

A 4xx answer undoes the work (a savepoint) but is kept and replayed; a 5xx undoes everything,
record included. The same key with another body is refused (422). Keys belong to one API key and
are kept 48 hours.
"""

import contextlib
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from crm.models import ApiKey, IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEPT_FOR = timedelta(hours=48)


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."


class Replay(Exception):
    def __init__(self, record: IdempotencyRecord):
        self.response = Response(
            record.response_body,
            status=record.status_code,
            content_type=record.content_type or None,
        )
        self.response[REPLAYED_HEADER] = "true"


def request_hash(request) -> str:
    body = request.body
    with contextlib.suppress(ValueError):  # the same JSON however it is spaced or ordered
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(
        request.method.encode() + request.path.encode() + b"\n" + body
    ).hexdigest()


def begin(request) -> IdempotencyRecord | None:
    """The record this request's transaction will complete, inserted in that transaction;
    raises Replay when an earlier request with the key committed."""
    key = request.headers.get(HEADER)
    api_key = request.auth
    if request.method in SAFE_METHODS or not key or not isinstance(api_key, ApiKey):
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError({HEADER: [f"At most {MAX_KEY_LENGTH} characters."]})
    digest = request_hash(request)
    while True:
        try:
            # A concurrent request holding the key makes this wait until it commits or rolls back.
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    api_key=api_key, key=key, request_hash=digest
                )
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if record is None:
            continue  # purged between the insert and this read: insert it again
        if record.request_hash != digest:
            raise KeyReused()
        raise Replay(record)


def complete(record: IdempotencyRecord, response: Response) -> None:
    """Store the response in the record, in the transaction that did the work."""
    record.status_code = response.status_code
    record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
    record.content_type = response.get("Content-Type", "")
    record.save(update_fields=["status_code", "response_body", "content_type"])


class TransactionalWrites:
    """For DRF views: each unsafe request is one transaction, with its Idempotency-Key.

    The response is rendered inside the transaction, so a failure to render undoes the work too.
    """

    idempotency_record: IdempotencyRecord | None = None
    work_savepoint: str | None = None

    def dispatch(self, request, *args, **kwargs):
        if request.method in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            response.render()
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            if response.status_code >= 400 and self.work_savepoint is not None:
                transaction.savepoint_rollback(self.work_savepoint)
                transaction.set_rollback(False)  # back at the savepoint, a known-good state
            if self.idempotency_record is not None:
                complete(self.idempotency_record, response)
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            self.idempotency_record = begin(request)
            self.work_savepoint = transaction.savepoint()

    def handle_exception(self, exc):
        if isinstance(exc, Replay):
            return exc.response
        return super().handle_exception(exc)


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEPT_FOR).delete()
    return deleted
