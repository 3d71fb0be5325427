"""Tenancy operations: stores, and API keys (shown once, stored as a SHA-256 digest, revoked
at once)."""

import datetime as dt
import hashlib
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from .db import as_datetime, prepared_cursor
from .errors import DomainError, ErrorCode
from .models import ApiKey, Organization, Store

KEY_PREFIX = "crm_"
SHOWN_PREFIX_LENGTH = 12


def api_key_digest(raw_key: str) -> str:
    # Keys are 256-bit random strings, so a fast digest is as safe here as a slow password hash.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_raw_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def api_key_create(
    *, organization: Organization, name: str, raw_key: str | None = None
) -> tuple[ApiKey, str]:
    """A new key for the organization, and the key itself: the only time it is available."""
    raw_key = raw_key or new_raw_api_key()
    api_key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=raw_key[:SHOWN_PREFIX_LENGTH],
        key_hash=api_key_digest(raw_key),
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
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


def store_create(*, organization: Organization, code: str, name: str, active: bool = True) -> Store:
    code = code.strip()
    if not code:
        raise DomainError(ErrorCode.REQUIRED, "A store needs a code.", field="code")
    if Store.objects.filter(organization=organization, code=code).exists():
        raise DomainError(ErrorCode.STORE_CODE_TAKEN, f"Store {code!r} exists.", field="code")
    try:
        with transaction.atomic():
            return Store.objects.create(
                organization=organization, code=code, name=name.strip(), active=active
            )
    except IntegrityError:
        raise DomainError(
            ErrorCode.STORE_CODE_TAKEN, f"Store {code!r} exists.", field="code"
        ) from None


def store_update(*, store: Store, name: str | None = None, active: bool | None = None) -> Store:
    """A store's name and active flag change; its code, which tills and imports use, stays."""
    changed = []
    if name is not None and name.strip() != store.name:
        store.name = name.strip()
        changed.append("name")
    if active is not None and active != store.active:
        store.active = active
        changed.append("active")
    if changed:
        store.save(update_fields=changed)
    return store
