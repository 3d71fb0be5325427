"""Customer status labels: an organization's names for statuses, one of them the default."""

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from crm import audit as config_audit
from crm.actors import SYSTEM, Actor
from crm.errors import DomainError, ErrorCode
from crm.models import Organization
from customers.choices import CustomerStatus
from customers.models import StatusLabel
from customers.normalization import clean_text, require_choice

STATUS_LABEL_FIELDS = ("name", "status", "is_default")


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
    actor: Actor = SYSTEM,
) -> StatusLabel:
    name = status_label_validate(
        organization=organization, name=name, status=status, is_default=is_default
    )
    try:
        with transaction.atomic():
            label = StatusLabel.objects.create(
                organization=organization, name=name, status=status, is_default=is_default
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
    *, label: StatusLabel, name: str, status: str, is_default: bool, actor: Actor = SYSTEM
) -> StatusLabel:
    """Customers with the label take its new status from their next change on."""
    name = status_label_validate(
        organization=label.organization,
        name=name,
        status=status,
        is_default=is_default,
        label=label,
    )
    before = config_audit.values_of(label, STATUS_LABEL_FIELDS)
    label.name, label.status, label.is_default = name, status, is_default
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
