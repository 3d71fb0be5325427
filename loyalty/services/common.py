"""What the loyalty services share: the tenancy check, the lock under which an enrolment's
points and tier change, and the refusals of customers whose status label blocks them."""

from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.models import Customer
from customers.services.status_labels import blocked_by, may_earn, may_spend

from ..models import Enrollment


def require_tenant(organization_id: int, organization: Organization, what: str) -> None:
    """Another organization's object is reported exactly like one that does not exist."""
    if organization_id != organization.pk:
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {what}.", field=what)


def lock_enrollment(organization: Organization, enrollment: Enrollment) -> Enrollment:
    """The enrolment, locked for update until the transaction ends, if it is the organization's."""
    locked = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("program", "customer__status_label", "tier")
        .get(pk=enrollment.pk)
    )
    require_tenant(locked.program.organization_id, organization, "enrollment")
    return locked


def refuse_earning_blocked(customer: Customer) -> None:
    if not may_earn(customer):
        raise DomainError(
            ErrorCode.EARNING_BLOCKED,
            f"Customer {customer.public_id} may not earn: their {blocked_by(customer)} blocks it.",
            field="customer",
        )


def refuse_spending_blocked(customer: Customer) -> None:
    if not may_spend(customer):
        raise DomainError(
            ErrorCode.SPENDING_BLOCKED,
            f"Customer {customer.public_id} may not spend: their {blocked_by(customer)} blocks it.",
            field="customer",
        )
