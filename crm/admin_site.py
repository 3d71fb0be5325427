"""The admin site: Django's, with a second factor on the login of staff who have one."""

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError

from .two_factor import (
    device_for_token,
    has_confirmed_device,
    second_factor_satisfied,
    two_factor_required,
)


class StaffAuthenticationForm(AdminAuthenticationForm):
    """Username and password, then the code of the staff member's TOTP device if they have one.

    A wrong code counts as a failed login (django-axes locks the account out after too many),
    besides slowing down the device itself.
    """

    otp_token = forms.CharField(
        label="Two-factor code",
        required=False,
        max_length=16,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_invalid": "Enter the current code of your authenticator app.",
        "otp_setup_required": (
            "This account needs two-factor authentication and has no device yet: an "
            "administrator issues one with `manage.py totp_device %(username)s`."
        ),
    }

    def clean(self):
        cleaned_data = super().clean()
        user = self.get_user()
        if has_confirmed_device(user):
            device = device_for_token(user, cleaned_data.get("otp_token", ""))
            if device is None:
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": user.get_username()},
                    request=self.request,
                )
                raise ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
            # django-otp marks the session verified by this device when the user logs in.
            user.otp_device = device
        elif two_factor_required(user):
            raise ValidationError(
                self.error_messages["otp_setup_required"],
                code="otp_setup_required",
                params={"username": user.get_username()},
            )
        return cleaned_data


class CrmAdminSite(admin.AdminSite):
    login_form = StaffAuthenticationForm

    def has_permission(self, request) -> bool:
        """Staff; and those who must have a second factor, in a session verified by it (a
        session opened before STAFF_2FA_REQUIRED was turned on is not)."""
        if not super().has_permission(request):
            return False
        if not hasattr(request, "second_factor_satisfied"):
            request.second_factor_satisfied = second_factor_satisfied(request.user)
        return request.second_factor_satisfied
