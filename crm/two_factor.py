"""Two-factor login for staff: a TOTP device (an authenticator app) beside the password.

Who must have one: with STAFF_2FA_REQUIRED on, superusers and members of the `supervisor`
group, who can move points, merge and erase. Anyone else may have one; once a staff member has a
confirmed device, every admin login of theirs asks for its code.
"""

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user, match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.errors import DomainError, ErrorCode
from crm.models import User

SUPERVISOR_GROUP = "supervisor"


def two_factor_required(user: User) -> bool:
    """Whether the user may reach the admin only after a second factor."""
    if not settings.STAFF_2FA_REQUIRED:
        return False
    return user.is_superuser or user.groups.filter(name=SUPERVISOR_GROUP).exists()


def second_factor_satisfied(user: User) -> bool:
    """Whether this signed-in session may act as the user: verified by a device (django-otp's
    middleware tells), or its user needs none."""
    return user.is_verified() or not two_factor_required(user)


def has_confirmed_device(user: User) -> bool:
    return any(devices_for_user(user, confirmed=True))


def device_for_token(user: User, token: str) -> TOTPDevice | None:
    """The user's confirmed device that accepts the token (each counts failures and slows down
    guessing); None if none does."""
    return match_token(user, token.strip()) if token.strip() else None


@transaction.atomic
def totp_device_create(*, user: User, name: str, replace: bool) -> TOTPDevice:
    """A new confirmed TOTP device for the user. With `replace`, the user's other TOTP devices are
    removed (a lost phone); without it, a second device is refused."""
    devices = TOTPDevice.objects.select_for_update().filter(user=user)
    if devices.exists() and not replace:
        raise DomainError(
            ErrorCode.TOTP_DEVICE_EXISTS,
            f"{user.username} already has a TOTP device; replace it to issue a new one.",
            field="replace",
        )
    devices.delete()
    return TOTPDevice.objects.create(user=user, name=name, confirmed=True)
