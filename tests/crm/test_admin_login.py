"""Admin logins: the lockout after failed passwords (django-axes) and the second factor
(django-otp TOTP devices), with STAFF_2FA_REQUIRED making it compulsory for superusers and
supervisors."""

import datetime as dt
import io

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.client_address import client_ip
from crm.two_factor import totp_device_create
from tests.conftest import LoginClient
from tests.crm.factories import StaffFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
INDEX = "/admin/"
PASSWORD = "pw"  # what StaffFactory sets
LIMIT = 5


@pytest.fixture(autouse=True)
def _lockout_policy(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)


def log_in(client, username, password=PASSWORD, token="", address="198.51.100.7", **headers):
    data = {"username": username, "password": password, "next": INDEX}
    if token:
        data["otp_token"] = token
    return client.post(LOGIN, data, REMOTE_ADDR=address, **headers)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == INDEX


def in_admin(client) -> bool:
    return client.get(INDEX).status_code == 200


def fail(client, username, times, **kwargs):
    return [log_in(client, username, "wrong", **kwargs).status_code for _ in range(times)]


def current_token(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def supervisor(org, username="supervisor"):
    user = StaffFactory(username=username, organization=org)
    user.groups.add(Group.objects.get(name="supervisor"))
    return user


# --- lockout -----------------------------------------------------------------------------------


def test_the_right_password_is_refused_after_too_many_wrong_ones(client, staff):
    assert fail(client, staff.username, LIMIT) == [200] * (LIMIT - 1) + [429]

    response = log_in(client, staff.username)

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert not in_admin(client)


def test_fewer_failures_than_the_limit_do_not_lock_and_a_success_clears_them(client, staff):
    fail(client, staff.username, LIMIT - 1)
    assert logged_in(log_in(client, staff.username))
    client.logout()

    assert fail(client, staff.username, LIMIT - 1) == [200] * (LIMIT - 1)
    assert logged_in(log_in(client, staff.username))


def test_the_lockout_is_of_one_user_name_from_one_address(client, staff, org):
    colleague = StaffFactory(username="colleague", organization=org)
    fail(client, staff.username, LIMIT)

    # A colleague behind the same office address logs in; so does the user from elsewhere.
    assert logged_in(log_in(client, colleague.username))
    client.logout()
    assert logged_in(log_in(client, staff.username, address="203.0.113.50"))
    client.logout()
    assert log_in(client, staff.username).status_code == 429


def test_the_lockout_ends_after_the_cool_off(client, staff):
    fail(client, staff.username, LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))

    assert logged_in(log_in(client, staff.username))


def test_axes_reset_unlocks_at_once(client, staff):
    fail(client, staff.username, LIMIT)
    call_command("axes_reset", stdout=io.StringIO())

    assert logged_in(log_in(client, staff.username))


def test_a_forwarded_address_is_believed_only_from_trusted_proxies(client, staff, settings):
    # Without trusted proxies, X-Forwarded-For is the client's own word: changing it is no escape.
    fail(client, staff.username, LIMIT, HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert log_in(client, staff.username, HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 429

    # Behind one proxy, the address it appended counts, whatever the client wrote before it.
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"address": "10.0.0.2"}
    fail(client, staff.username, LIMIT, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9", **proxy)
    blocked = log_in(client, staff.username, HTTP_X_FORWARDED_FOR="2.2.2.2, 203.0.113.9", **proxy)
    assert blocked.status_code == 429
    assert logged_in(log_in(client, staff.username, HTTP_X_FORWARDED_FOR="203.0.113.10", **proxy))


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "192.0.2.1", "10.0.0.2"),
        (1, "192.0.2.1, 203.0.113.9", "203.0.113.9"),
        (2, "192.0.2.1, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        # Fewer entries than proxies: the request did not come through them all.
        (2, "203.0.113.9", "10.0.0.2"),
        (1, "", "10.0.0.2"),
    ],
)
def test_client_ip(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_api_keys_are_not_counted_as_logins(api, client, org):
    for _ in range(LIMIT + 3):
        response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION="Bearer wrong-key")
        assert response.status_code == 401
    assert api.get("/api/v1/customers/").status_code == 200
    assert not AccessAttempt.objects.exists()


def superuser_client(django_user_model):
    client = LoginClient()
    client.force_login(django_user_model.objects.create_superuser("root", "", "pw"))
    return client


def test_the_attempts_and_lockouts_are_superusers_to_see(client, staff, django_user_model):
    fail(client, staff.username, LIMIT)
    client.force_login(staff)
    attempts = "/admin/axes/accessattempt/"

    assert client.get(attempts).status_code == 403
    page = superuser_client(django_user_model).get(attempts)
    assert page.status_code == 200
    assert staff.username in page.content.decode()


# --- two-factor --------------------------------------------------------------------------------


def test_with_a_device_the_login_asks_for_its_code(client, staff):
    device = totp_device_create(user=staff, name="phone", replace=False)

    refused = log_in(client, staff.username)
    assert refused.status_code == 200
    assert "Enter the current code of your authenticator app." in refused.content.decode()
    assert not in_admin(client)

    assert logged_in(log_in(client, staff.username, token=current_token(device)))
    assert in_admin(client)


def test_a_wrong_code_is_refused_and_counts_towards_the_lockout(client, staff, settings):
    device = totp_device_create(user=staff, name="phone", replace=False)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # only the lockout slows the guesses here
    wrong = f"{(int(current_token(device)) + 1) % 10**6:06d}"

    statuses = [log_in(client, staff.username, token=wrong).status_code for _ in range(LIMIT)]

    assert statuses == [200] * (LIMIT - 1) + [429]
    assert log_in(client, staff.username, token=current_token(device)).status_code == 429
    assert not in_admin(client)


def test_without_the_setting_nobody_needs_a_device(client, org, django_user_model):
    user = supervisor(org)
    assert logged_in(log_in(client, user.username))
    assert in_admin(client)
    assert superuser_client(django_user_model).get(INDEX).status_code == 200


def test_when_required_a_supervisor_without_a_device_cannot_reach_the_admin(client, org, settings):
    settings.STAFF_2FA_REQUIRED = True
    user = supervisor(org)

    refused = log_in(client, user.username)
    assert refused.status_code == 200
    assert f"manage.py totp_device {user.username}" in refused.content.decode()
    # Nor with a session opened before the setting was on.
    client.force_login(user)
    response = client.get(INDEX)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_when_required_a_superuser_without_a_device_cannot_reach_the_admin(
    django_user_model, settings
):
    settings.STAFF_2FA_REQUIRED = True
    assert superuser_client(django_user_model).get(INDEX).status_code == 302


def test_when_required_an_agent_needs_no_device(client, org, settings, staff_groups):
    settings.STAFF_2FA_REQUIRED = True
    agent = StaffFactory(username="agent", organization=org)
    agent.groups.add(staff_groups["agent"])

    assert logged_in(log_in(client, agent.username))
    assert in_admin(client)


def test_when_required_a_supervisor_with_a_device_gets_in_with_its_code(client, org, settings):
    settings.STAFF_2FA_REQUIRED = True
    user = supervisor(org)
    device = totp_device_create(user=user, name="phone", replace=False)

    assert logged_in(log_in(client, user.username, token=current_token(device)))
    assert in_admin(client)


def test_when_required_removing_the_device_ends_the_admin_session(client, org, settings):
    settings.STAFF_2FA_REQUIRED = True
    user = supervisor(org)
    device = totp_device_create(user=user, name="lost phone", replace=False)
    log_in(client, user.username, token=current_token(device))

    device.delete()

    assert client.get(INDEX).status_code == 302


@pytest.fixture
def staff_groups(db):
    return {group.name: group for group in Group.objects.filter(name__in=["agent", "supervisor"])}


# --- issuing devices ---------------------------------------------------------------------------


def test_the_command_issues_a_device_whose_code_logs_in(client, staff):
    out = io.StringIO()
    call_command("totp_device", staff.username, stdout=out, stderr=io.StringIO())

    device = TOTPDevice.objects.get(user=staff)
    assert device.confirmed
    printed = out.getvalue()
    assert printed.startswith(f"otpauth://totp/Loyalty%20CRM%3A{staff.username}?secret=")
    assert "█" in printed or "▀" in printed  # the QR code, drawn for a terminal
    assert logged_in(log_in(client, staff.username, token=current_token(device)))


def test_the_command_replaces_a_device_only_when_told(staff):
    first = totp_device_create(user=staff, name="old phone", replace=False)
    with pytest.raises(CommandError, match="already has a TOTP device"):
        call_command("totp_device", staff.username, stdout=io.StringIO(), stderr=io.StringIO())

    call_command(
        "totp_device", staff.username, "--replace", stdout=io.StringIO(), stderr=io.StringIO()
    )

    devices = list(TOTPDevice.objects.filter(user=staff))
    assert len(devices) == 1
    assert devices[0].pk != first.pk


def test_the_command_names_an_unknown_user():
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("totp_device", "nobody", stdout=io.StringIO(), stderr=io.StringIO())


def test_devices_and_their_qr_codes_are_superusers_to_see(staff_client, staff, django_user_model):
    superuser = superuser_client(django_user_model)
    device = totp_device_create(user=staff, name="phone", replace=False)
    pages = [
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        f"/admin/otp_totp/totpdevice/{device.pk}/config/",
        f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/",
    ]
    for page in pages:
        assert staff_client.get(page).status_code == 403, page
        assert superuser.get(page).status_code == 200, page
    assert superuser.get(pages[3])["Content-Type"] == "image/svg+xml"
    assert superuser.get("/admin/otp_totp/totpdevice/987654/config/").status_code == 404


def test_when_required_the_api_refuses_a_supervisors_session_without_its_second_factor(
    client, org, settings
):
    settings.STAFF_2FA_REQUIRED = True
    user = supervisor(org)
    client.force_login(user)  # a session opened before the setting was on

    refused = client.get("/api/v1/customers/")
    assert refused.status_code in {401, 403}
    assert "second factor" in refused.json()["detail"]

    device = totp_device_create(user=user, name="phone", replace=False)
    client.logout()
    assert logged_in(log_in(client, user.username, token=current_token(device)))
    assert client.get("/api/v1/customers/").status_code == 200


def test_when_required_the_api_serves_an_agents_session(client, org, settings, staff_groups):
    settings.STAFF_2FA_REQUIRED = True
    agent = StaffFactory(username="agent", organization=org)
    agent.groups.add(staff_groups["agent"])
    client.force_login(agent)

    assert client.get("/api/v1/customers/").status_code == 200
