"""Customer status labels: an organization's names for statuses, one of them the default, and
whether their customers may earn and spend.

A customer with a label may earn and spend as the label says; one without follows its status:
suspended and fraud statuses may neither, the others may both. Loyalty asks `may_earn` and
`may_spend` before every award and every spending.
"""

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from crm import audit as config_audit
from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.choices import CustomerStatus
from customers.models import Customer, StatusLabel
from customers.normalization import clean_text, require_choice

STATUS_LABEL_FIELDS = ("name", "status", "is_default", "may_earn", "may_spend")
BLOCKED_STATUSES = frozenset(
    {CustomerStatus.SUSPENDED, CustomerStatus.FRAUD_SUSPECTED, CustomerStatus.FRAUD_CONFIRMED}
)


def status_may_trade(status: str) -> bool:
    """Whether customers of `status` earn and spend when nothing else says: a label's default."""
    return status not in BLOCKED_STATUSES


def may_earn(customer: Customer) -> bool:
    """Whether the customer may earn points and stamps (awards, welcome and referral points,
    purchases). Reads the customer's label: the one loaded with it, or by one query."""
    if customer.status_label_id is None:
        return status_may_trade(customer.status)
    return customer.status_label.may_earn


def may_spend(customer: Customer) -> bool:
    """Whether the customer may spend points, redeem rewards and redeem coupons."""
    if customer.status_label_id is None:
        return status_may_trade(customer.status)
    return customer.status_label.may_spend


def blocked_by(customer: Customer) -> str:
    """What blocks the customer, for an error message: its label, or its status."""
    if customer.status_label_id is None:
        return f"status {customer.get_status_display()!r}"
    return f"status label {customer.status_label.name!r}"


def status_label_validate(
    *,
    organization: Organization,
    name: str,
    status: str,
    is_default: bool,
    label: StatusLabel | None = None,
) -> str:
    """The label's name, cleaned, or a DomainError: names are the organization's own whatever
    their case, and one label at most is the default. `label` is the one being changed."""
    name = clean_text(name, max_length=StatusLabel._meta.get_field("name").max_length, field="name")
    if not name:
        raise DomainError(ErrorCode.REQUIRED, "A status label needs a name.", field="name")
    require_choice(
        status, CustomerStatus, code=ErrorCode.INVALID, field="status", what="customer status"
    )
    others = StatusLabel.objects.filter(organization=organization)
    if label is not None:
        others = others.exclude(pk=label.pk)
    if others.filter(name__iexact=name).exists():
        raise DomainError(
            ErrorCode.STATUS_LABEL_TAKEN,
            f"The organization already has a status label {name!r}.",
            field="name",
        )
    if is_default and (default := others.filter(is_default=True).first()):
        raise DomainError(
            ErrorCode.DEFAULT_STATUS_LABEL_TAKEN,
            f"{default.name!r} is the default status label: make it not the default first.",
            field="is_default",
        )
    return name


def status_label_create(
    *,
    organization: Organization,
    name: str,
    status: str,
    is_default: bool = False,
    may_earn: bool | None = None,
    may_spend: bool | None = None,
    actor: Actor = SYSTEM,
) -> StatusLabel:
    """A label whose customers may earn and spend as given, or by its status if not given."""
    name = status_label_validate(
        organization=organization, name=name, status=status, is_default=is_default
    )
    by_status = status_may_trade(status)
    try:
        with transaction.atomic():
            label = StatusLabel.objects.create(
                organization=organization,
                name=name,
                status=status,
                is_default=is_default,
                may_earn=by_status if may_earn is None else may_earn,
                may_spend=by_status if may_spend is None else may_spend,
            )
            config_audit.record_created(label, STATUS_LABEL_FIELDS, actor=actor)
    except IntegrityError:
        # A concurrent label took the name or the default: say which, as the checks do.
        status_label_validate(
            organization=organization, name=name, status=status, is_default=is_default
        )
        raise
    return label


def status_label_update(
    *,
    label: StatusLabel,
    name: str,
    status: str,
    is_default: bool,
    may_earn: bool | None = None,
    may_spend: bool | None = None,
    actor: Actor = SYSTEM,
) -> StatusLabel:
    """Customers with the label take its new status from their next change on, and may earn and
    spend as it says at once. A flag not given stays, or follows the status if that changes."""
    name = status_label_validate(
        organization=label.organization,
        name=name,
        status=status,
        is_default=is_default,
        label=label,
    )
    before = config_audit.values_of(label, STATUS_LABEL_FIELDS)
    if status != label.status:
        by_status = status_may_trade(status)
        may_earn = by_status if may_earn is None else may_earn
        may_spend = by_status if may_spend is None else may_spend
    label.name, label.status, label.is_default = name, status, is_default
    label.may_earn = label.may_earn if may_earn is None else may_earn
    label.may_spend = label.may_spend if may_spend is None else may_spend
    with transaction.atomic():
        return config_audit.save_changed(label, before, actor=actor)


@transaction.atomic
def status_label_delete(*, label: StatusLabel, actor: Actor = SYSTEM) -> None:
    config_audit.record_deleted(label, STATUS_LABEL_FIELDS, actor=actor)
    try:
        label.delete()
    except ProtectedError:
        raise DomainError(
            ErrorCode.IN_USE, f"Customers have the status label {label.name!r}.", field=None
        ) from None
