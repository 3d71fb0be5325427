import io

import qrcode
from django.core.management.base import BaseCommand, CommandError

from crm.errors import DomainError
from crm.models import User
from crm.two_factor import totp_device_create


def terminal_qr(text: str) -> str:
    """The QR code of `text` drawn in text characters, for a terminal."""
    code = qrcode.QRCode(border=2)
    code.add_data(text)
    drawn = io.StringIO()
    code.print_ascii(out=drawn, invert=True)
    return drawn.getvalue()


class Command(BaseCommand):
    help = (
        "Issue a TOTP device (an authenticator app) to a staff member and print its otpauth:// "
        "link and QR code, to scan once: from then on their admin login asks for its code."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="Authenticator app", help="A name for the device.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Remove the user's other TOTP devices first (a lost or new phone).",
        )

    def handle(self, *args, username: str, name: str, replace: bool, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user {username!r}") from None
        try:
            device = totp_device_create(user=user, name=name, replace=replace)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stderr.write(
            f"Issued a TOTP device to {user.username}: scan the QR code (or enter the link) in an "
            "authenticator app now; it is not shown again."
        )
        self.stdout.write(device.config_url)
        self.stdout.write(terminal_qr(device.config_url))
