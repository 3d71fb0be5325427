"""Configuring coupon series: what a coupon gives and how long it is valid."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization

from ..models import CouponSeries
from .configuration import check_count, config_create, config_delete, config_update, required_text

COUPON_SERIES_FIELDS = ("description", "discount_code", "valid_days", "valid_until", "active")


def coupon_series_validate(
    *,
    description: str,
    discount_code: str,
    valid_days: int | None,
    valid_until: dt.datetime | None,
) -> tuple[str, str]:
    """The description and discount code, cleaned."""
    description = required_text(description, CouponSeries, "description")
    discount_code = required_text(discount_code, CouponSeries, "discount_code")
    check_count(valid_days, field="valid_days", optional=True)
    if valid_until is not None and timezone.is_naive(valid_until):
        raise DomainError(ErrorCode.INVALID, "A time zone is needed.", field="valid_until")
    return description, discount_code


@transaction.atomic
def coupon_series_create(
    *,
    organization: Organization,
    description: str,
    discount_code: str = "NO_VALUE",
    valid_days: int | None = None,
    valid_until: dt.datetime | None = None,
    active: bool = True,
    actor: Actor = SYSTEM,
) -> CouponSeries:
    description, discount_code = coupon_series_validate(
        description=description,
        discount_code=discount_code,
        valid_days=valid_days,
        valid_until=valid_until,
    )
    return config_create(
        CouponSeries,
        COUPON_SERIES_FIELDS,
        actor=actor,
        organization=organization,
        description=description,
        discount_code=discount_code,
        valid_days=valid_days,
        valid_until=valid_until,
        active=active,
    )


@transaction.atomic
def coupon_series_update(
    *,
    series: CouponSeries,
    description: str,
    discount_code: str,
    valid_days: int | None,
    valid_until: dt.datetime | None,
    active: bool,
    actor: Actor = SYSTEM,
) -> CouponSeries:
    """Coupons already issued keep their validity."""
    description, discount_code = coupon_series_validate(
        description=description,
        discount_code=discount_code,
        valid_days=valid_days,
        valid_until=valid_until,
    )
    return config_update(
        series,
        actor=actor,
        description=description,
        discount_code=discount_code,
        valid_days=valid_days,
        valid_until=valid_until,
        active=active,
    )


@transaction.atomic
def coupon_series_delete(*, series: CouponSeries, actor: Actor = SYSTEM) -> None:
    config_delete(
        series,
        COUPON_SERIES_FIELDS,
        actor,
        in_use=f"Coupons of {series.description!r} were issued, or a programme gives them.",
    )
