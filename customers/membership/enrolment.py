"""The enrolments and stamp cards a customer input asks for: checked, then made."""

from dataclasses import dataclass, field

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from crm.parsing import in_utc
from customers.inputs import CustomerInput
from customers.models import Customer
from customers.services.registration import CustomerResult, ServiceWarning
from customers.validation import is_id, is_int
from loyalty.models import Program, StampCard
from loyalty.services.enrolments import enrollment_create, enrollment_validate
from loyalty.services.points import MAX_POINTS
from loyalty.services.stamps import card_enroll
from loyalty.side_effects import SideEffect


@dataclass
class MembershipResult(CustomerResult):
    """A customer's registration or change, with what loyalty did in consequence."""

    side_effects: list[SideEffect] = field(default_factory=list)

    @classmethod
    def of(cls, result: CustomerResult) -> "MembershipResult":
        return cls(
            customer=result.customer,
            created=result.created,
            changed=result.changed,
            warnings=result.warnings,
        )


def programs_for(organization: Organization, data: CustomerInput) -> dict[int, Program]:
    """The programmes `data` enrols in, by id, once every enrolment in it is checked; its
    enrolments' expiry times are converted to UTC in place."""
    ids = [enrollment.program_id for enrollment in data.enrollments]
    programs = Program.objects.filter(organization=organization).in_bulk(
        [i for i in ids if is_id(i)]
    )
    for i, enrollment in enumerate(data.enrollments):
        path = f"enrollments[{i}]"
        if not is_id(enrollment.program_id) or enrollment.program_id not in programs:
            raise DomainError(
                ErrorCode.PROGRAM_UNKNOWN,
                f"{enrollment.program_id!r} is not a programme of this organization.",
                field=f"{path}.program_id",
            )
        if enrollment.tier_number is not None and not is_id(enrollment.tier_number):
            raise DomainError(
                ErrorCode.INVALID, "Expected a tier number.", field=f"{path}.tier_number"
            )
        if not is_int(enrollment.points) or not 0 <= enrollment.points <= MAX_POINTS:
            raise DomainError(
                ErrorCode.AMOUNT_INVALID,
                f"Expected a whole number of points from 0 to {MAX_POINTS}.",
                field=f"{path}.points",
            )
        for name in ("tier_expires_at", "points_expire_at"):
            value = getattr(enrollment, name)
            if value is not None:
                setattr(enrollment, name, in_utc(value, f"{path}.{name}"))
    return programs


def stamp_cards_for(organization: Organization, data: CustomerInput) -> dict[int, StampCard]:
    ids = data.stamp_card_ids
    cards = StampCard.objects.filter(organization=organization).in_bulk(
        [i for i in ids if is_id(i)]
    )
    for i, card_id in enumerate(ids):
        if not is_id(card_id) or card_id not in cards:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"{card_id!r} is not a stamp card of this organization.",
                field=f"stamp_card_ids[{i}]",
            )
    return cards


def enrol_all(
    customer: Customer,
    data: CustomerInput,
    programs: dict[int, Program],
    stamp_cards: dict[int, StampCard],
    actor: Actor,
    result: MembershipResult,
    *,
    skip_existing: bool,
) -> None:
    organization = customer.organization
    enrolled = (
        set(customer.enrollments.values_list("program_id", flat=True)) if skip_existing else set()
    )
    for i, enrollment in enumerate(data.enrollments):
        program = programs[enrollment.program_id]
        if skip_existing and program.pk in enrolled:
            result.warnings.append(
                ServiceWarning("already_enrolled", f"Already enrolled in {program.name!r}.")
            )
            continue
        try:
            outcome = enrollment_create(
                organization=organization,
                customer=customer,
                program=program,
                tier_number=enrollment.tier_number,
                tier_expires_at=enrollment.tier_expires_at,
                points=enrollment.points,
                points_expire_at=enrollment.points_expire_at,
                actor=actor,
            )
        except DomainError as error:
            raise error.at(f"enrollments[{i}]") from None
        result.side_effects.extend(outcome.side_effects)
        result.warnings.extend(outcome.warnings)
    carded = set(customer.cards.values_list("stamp_card_id", flat=True)) if skip_existing else set()
    for i, card_id in enumerate(data.stamp_card_ids):
        if skip_existing and card_id in carded:
            continue
        try:
            outcome = card_enroll(
                organization=organization,
                customer=customer,
                stamp_card=stamp_cards[card_id],
                actor=actor,
            )
        except DomainError as error:
            raise error.at(f"stamp_card_ids[{i}]") from None
        result.side_effects.extend(outcome.side_effects)
        result.warnings.extend(outcome.warnings)


def enrolments_check(
    customer: Customer,
    data: CustomerInput,
    programs: dict[int, Program],
    stamp_cards: dict[int, StampCard],
) -> None:
    """Refuse now the enrolments and cards that a background job could not make."""
    for i, enrollment in enumerate(data.enrollments):
        try:
            enrollment_validate(
                organization=customer.organization,
                customer=customer,
                program=programs[enrollment.program_id],
                tier_number=enrollment.tier_number,
            )
        except DomainError as error:
            raise error.at(f"enrollments[{i}]") from None
    for i, card_id in enumerate(data.stamp_card_ids):
        if customer.cards.filter(stamp_card_id=card_id).exists():
            raise DomainError(
                ErrorCode.ALREADY_ENROLLED,
                f"The customer already has a {stamp_cards[card_id].name!r} card.",
                field=f"stamp_card_ids[{i}]",
            )
