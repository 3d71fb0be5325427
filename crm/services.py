"""Tenancy operations: stores, and API keys (shown once, stored as a SHA-256 digest, revoked
at once)."""

import datetime as dt
import hashlib
import secrets

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from . import audit
from .actors import SYSTEM, Actor
from .db import as_datetime, prepared_cursor
from .errors import DomainError, ErrorCode
from .models import ApiKey, Organization, Store

KEY_PREFIX = "crm_"
SHOWN_PREFIX_LENGTH = 12
API_KEY_FIELDS = ("name", "prefix")
STORE_FIELDS = ("code", "name", "active")


def _clean_text(value: str, *, field: str, max_length: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DomainError(ErrorCode.REQUIRED, "This field is required.", field=field)
    if len(text) > max_length:
        raise DomainError(
            ErrorCode.TOO_LONG, f"At most {max_length} characters are allowed.", field=field
        )
    return text


def api_key_digest(raw_key: str) -> str:
    # Keys are 256-bit random strings, so a fast digest is as safe here as a slow password hash.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_raw_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def api_key_create(
    *,
    organization: Organization,
    name: str,
    raw_key: str | None = None,
    actor: Actor = SYSTEM,
) -> tuple[ApiKey, str]:
    """A new key for the organization, and the key itself: the only time it is available."""
    name = _clean_text(name, field="name", max_length=ApiKey._meta.get_field("name").max_length)
    raw_key = raw_key or new_raw_api_key()
    api_key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=raw_key[:SHOWN_PREFIX_LENGTH],
        key_hash=api_key_digest(raw_key),
    )
    audit.record_created(api_key, API_KEY_FIELDS, actor=actor)
    return api_key, raw_key


@transaction.atomic
def api_key_rename(*, api_key: ApiKey, name: str, actor: Actor = SYSTEM) -> ApiKey:
    before = audit.values_of(api_key, ["name"])
    api_key.name = _clean_text(
        name, field="name", max_length=ApiKey._meta.get_field("name").max_length
    )
    return audit.save_changed(api_key, before, actor=actor)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor = SYSTEM) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit.record(
            api_key,
            action="revoked",
            changes={"revoked_at": (None, api_key.revoked_at)},
            actor=actor,
        )
    return api_key


LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


API_KEY_LOOKUP = """
    SELECT k.id, k.name, k.prefix, k.last_used_at,
           o.id, o.name, o.slug, o.default_region, o.api_requests_per_minute
    FROM crm_apikey k JOIN crm_organization o ON o.id = k.organization_id
    WHERE k.key_hash = %s AND k.revoked_at IS NULL
"""


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key `raw_key` is, with its organization; None for an unknown or revoked key.

    Every API request runs this, so it is one prepared query, and `last_used_at` is written at
    most once a minute.
    """
    with prepared_cursor() as cursor:
        cursor.execute(API_KEY_LOOKUP, [api_key_digest(raw_key)])
        row = cursor.fetchone()
    if row is None:
        return None
    key_id, name, prefix, last_used_at, org_id, org_name, slug, region, rate = row
    organization = Organization(
        id=org_id, name=org_name, slug=slug, default_region=region, api_requests_per_minute=rate
    )
    api_key = ApiKey(
        id=key_id,
        organization=organization,
        name=name,
        prefix=prefix,
        last_used_at=as_datetime(last_used_at),
    )
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def _store_code_taken(code: str) -> DomainError:
    return DomainError(ErrorCode.STORE_CODE_TAKEN, f"Store {code!r} exists.", field="code")


def _store_name(name: str) -> str:
    return _clean_text(name, field="name", max_length=Store._meta.get_field("name").max_length)


def store_validate(
    *, organization: Organization, code: str, name: str, store: Store | None = None
) -> tuple[str, str]:
    """A store's code and name, cleaned: the code is required and no other store's of the
    organization. `store` is the one being changed."""
    if not isinstance(code, str) or not code.strip():
        raise DomainError(ErrorCode.REQUIRED, "A store needs a code.", field="code")
    code = _clean_text(code, field="code", max_length=Store._meta.get_field("code").max_length)
    name = _store_name(name)
    others = Store.objects.filter(organization=organization, code=code)
    if store is not None:
        others = others.exclude(pk=store.pk)
    if others.exists():
        raise _store_code_taken(code)
    return code, name


def store_create(
    *,
    organization: Organization,
    code: str,
    name: str,
    active: bool = True,
    actor: Actor = SYSTEM,
) -> Store:
    code, name = store_validate(organization=organization, code=code, name=name)
    try:
        with transaction.atomic():
            store = Store.objects.create(
                organization=organization, code=code, name=name, active=active
            )
            audit.record_created(store, STORE_FIELDS, actor=actor)
    except IntegrityError:
        raise _store_code_taken(code) from None
    return store


@transaction.atomic
def store_update(
    *,
    store: Store,
    name: str | None = None,
    active: bool | None = None,
    actor: Actor = SYSTEM,
) -> Store:
    """A store's name and active flag change; its code, which tills and imports use, stays."""
    before = audit.values_of(store, ["name", "active"])
    if name is not None:
        store.name = _store_name(name)
    if active is not None:
        store.active = active
    return audit.save_changed(store, before, actor=actor)


@transaction.atomic
def store_delete(*, store: Store, actor: Actor = SYSTEM) -> None:
    """Customers registered at the store keep their data without it; a store that stamp cards
    belong to stays."""
    audit.record_deleted(store, STORE_FIELDS, actor=actor)
    try:
        store.delete()
    except ProtectedError:
        raise DomainError(
            ErrorCode.IN_USE, f"Store {store.code!r} has stamp cards: it cannot be deleted."
        ) from None
