"""Coupons: issued to a customer from a series, with a fresh code, and redeemed once."""

import datetime as dt
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers import audit
from customers.closure import customer_refuse_closed
from customers.models import Customer

from ..models import Coupon, CouponSeries
from ..side_effects import CouponIssued, SideEffect
from .common import refuse_spending_blocked, require_tenant


@dataclass
class CouponResult:
    coupon: Coupon
    side_effects: list[SideEffect] = field(default_factory=list)


def _coupon_valid_till(series: CouponSeries, issued_at: dt.datetime) -> dt.datetime | None:
    ends = []
    if series.valid_days is not None:
        last_day = issued_at.astimezone(dt.UTC).date() + dt.timedelta(days=series.valid_days)
        ends.append(dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=dt.UTC))
    if series.valid_until is not None:
        ends.append(series.valid_until)
    return min(ends) if ends else None


@transaction.atomic
def coupon_issue(
    *, organization: Organization, series: CouponSeries, customer: Customer, actor: Actor
) -> CouponResult:
    require_tenant(series.organization_id, organization, "series")
    require_tenant(customer.organization_id, organization, "customer")
    customer_refuse_closed(customer)
    now = timezone.now()
    if not series.active or (series.valid_until is not None and series.valid_until <= now):
        raise DomainError(
            ErrorCode.INACTIVE, f"{series.description!r} is not issued any more.", field="series"
        )
    while True:
        try:
            with transaction.atomic():
                coupon = Coupon.objects.create(
                    organization=organization,
                    series=series,
                    customer=customer,
                    issued_at=now,
                    valid_till=_coupon_valid_till(series, now),
                )
            break
        except IntegrityError:
            continue  # the random code was taken: draw another
    audit.record(
        customer,
        subject="coupon",
        action="issued",
        changes={series.description: (None, coupon.code)},
        actor=actor,
    )
    return CouponResult(
        coupon,
        [
            CouponIssued(
                coupon_id=coupon.pk,
                code=coupon.code,
                description=series.description,
                discount_code=series.discount_code,
                valid_till=coupon.valid_till,
            )
        ],
    )


@transaction.atomic
def coupon_redeem(*, organization: Organization, code: str, actor: Actor) -> Coupon:
    """Mark the coupon used; an unknown, expired or already used coupon is refused, and so is
    the coupon of a customer whose status label blocks spending."""
    coupon = (
        Coupon.objects.select_for_update()
        .filter(organization=organization, code=str(code).strip().upper())
        .first()
    )
    if coupon is None:
        raise DomainError(ErrorCode.COUPON_UNKNOWN, f"No coupon {code!r}.", field="code")
    customer_refuse_closed(coupon.customer)
    refuse_spending_blocked(coupon.customer)
    now = timezone.now()
    if coupon.redeemed_at is not None:
        raise DomainError(
            ErrorCode.COUPON_REDEEMED,
            f"Coupon {coupon.code} was already redeemed at {coupon.redeemed_at:%Y-%m-%d %H:%M}.",
            field="code",
        )
    if coupon.valid_till is not None and coupon.valid_till < now:
        raise DomainError(
            ErrorCode.COUPON_EXPIRED, f"Coupon {coupon.code} has expired.", field="code"
        )
    coupon.redeemed_at = now
    coupon.save(update_fields=["redeemed_at"])
    audit.record(
        coupon.customer,
        subject="coupon",
        action="redeemed",
        changes={f"coupon {coupon.code}: redeemed": (None, now)},
        actor=actor,
    )
    return coupon
