"""What the loyalty services share: the tenancy check, and the lock under which an enrolment's
points and tier change."""

from crm.errors import DomainError, ErrorCode
from crm.models import Organization

from ..models import Enrollment


def require_tenant(organization_id: int, organization: Organization, what: str) -> None:
    """Another organization's object is reported exactly like one that does not exist."""
    if organization_id != organization.pk:
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {what}.", field=what)


def lock_enrollment(organization: Organization, enrollment: Enrollment) -> Enrollment:
    """The enrolment, locked for update until the transaction ends, if it is the organization's."""
    locked = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("program", "customer", "tier")
        .get(pk=enrollment.pk)
    )
    require_tenant(locked.program.organization_id, organization, "enrollment")
    return locked
