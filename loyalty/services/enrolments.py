"""Enrolling a customer in a programme, and setting an enrolment's tier.

Each function runs in one transaction and checks that every object it is given belongs to the
caller's organization; each reports what else it did (welcome points and coupon, a tier reached)
as side effects.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers import audit
from customers.closure import customer_refuse_closed
from customers.models import Customer
from customers.services.registration import ServiceWarning
from customers.services.status_labels import may_earn

from ..choices import TierChangeReason
from ..models import Enrollment, Program
from ..side_effects import SideEffect
from ..tiers import Tier
from .common import lock_enrollment, require_tenant
from .coupons import coupon_issue
from .points import earning_skipped, points_award
from .tier_changes import change_tier, find_tier, tier_floor_set


@dataclass
class EnrollmentResult:
    enrollment: Enrollment
    side_effects: list[SideEffect] = field(default_factory=list)
    warnings: list[ServiceWarning] = field(default_factory=list)


def enrollment_validate(
    *,
    organization: Organization,
    customer: Customer,
    program: Program,
    tier_number: int | None = None,
) -> Tier | None:
    """Every check enrolling would make, writing nothing; the tier it would give."""
    require_tenant(customer.organization_id, organization, "customer")
    require_tenant(program.organization_id, organization, "program")
    if not program.active:
        raise DomainError(ErrorCode.INACTIVE, f"{program.name!r} is not active.", field="program")
    tier = find_tier(program, tier_number, field="tier_number")
    if Enrollment.objects.filter(customer=customer, program=program).exists():
        raise _already_enrolled(program)
    return tier


def _already_enrolled(program: Program) -> DomainError:
    return DomainError(
        ErrorCode.ALREADY_ENROLLED,
        f"The customer is already enrolled in {program.name!r}.",
        field="program",
    )


@transaction.atomic
def enrollment_create(
    *,
    organization: Organization,
    customer: Customer,
    program: Program,
    tier_number: int | None = None,
    tier_expires_at: dt.datetime | None = None,
    points: int = 0,
    points_expire_at: dt.datetime | None = None,
    actor: Actor,
) -> EnrollmentResult:
    """Enrol a customer at a tier (the lowest by default), with opening points, and give the
    programme's welcome points and coupon. A customer whose status label blocks earning is
    enrolled without the points, with a warning (the coupon is issued: redeeming it is what
    the label refuses). A tier given by number is a floor until `tier_expires_at`, as one set
    by staff is."""
    customer_refuse_closed(customer)
    tier = enrollment_validate(
        organization=organization, customer=customer, program=program, tier_number=tier_number
    )
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                customer=customer,
                program=program,
                tier_floor=tier if tier_number is not None else None,
                tier_floor_until=tier_expires_at if tier_number is not None else None,
            )
    except IntegrityError:
        raise _already_enrolled(program) from None  # a concurrent call enrolled them first
    audit.record(
        customer,
        subject="enrollment",
        action="added",
        changes={"programme": (None, program.name)},
        actor=actor,
    )
    result = EnrollmentResult(enrollment)
    change_tier(enrollment, tier, tier_expires_at, TierChangeReason.ENROLMENT, actor)
    awards = [(points, "Points at enrolment", points_expire_at)]
    awards.append((program.welcome_points, "Welcome points", None))
    earns = may_earn(customer)
    for amount, reason, expires_at in awards:
        if amount and not earns:
            result.warnings.append(earning_skipped(customer, reason))
        elif amount:
            award = points_award(
                organization=organization,
                enrollment=enrollment,
                points=amount,
                reason=reason,
                expires_at=expires_at,
                actor=actor,
            )
            result.side_effects.extend(award.side_effects)
    if program.welcome_coupon_series_id:
        issued = coupon_issue(
            organization=organization,
            series=program.welcome_coupon_series,
            customer=customer,
            actor=actor,
        )
        result.side_effects.extend(issued.side_effects)
    return result


@transaction.atomic
def tier_set(
    *,
    organization: Organization,
    enrollment: Enrollment,
    tier_number: int,
    tier_expires_at: dt.datetime | None = None,
    actor: Actor,
) -> EnrollmentResult:
    """Set the enrolment's tier until `tier_expires_at` (never, without it). Until then it is a
    floor: the end of a tier period never takes the member below it."""
    locked = lock_enrollment(organization, enrollment)
    customer_refuse_closed(locked.customer)
    tier = find_tier(locked.program, tier_number, field="tier_number")
    changed = change_tier(locked, tier, tier_expires_at, TierChangeReason.SET, actor)
    tier_floor_set(locked, tier, tier_expires_at)
    for name in ("tier", "tier_expires_at", "tier_floor", "tier_floor_until"):
        setattr(enrollment, name, getattr(locked, name))
    return EnrollmentResult(enrollment, [changed] if changed else [])
