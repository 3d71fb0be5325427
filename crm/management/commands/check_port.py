import errno

from django.core.management.base import BaseCommand, CommandError

from crm.ports import port_bind_error


class Command(BaseCommand):
    help = (
        "Fail, in one line, unless a server could listen on HOST:PORT now (`make run` asks it "
        "before it migrates and loads the demo)."
    )

    def add_arguments(self, parser):
        parser.add_argument("address", metavar="HOST:PORT")

    def handle(self, *args, address, **options):
        host, _, raw_port = address.rpartition(":")
        if not host:
            raise CommandError(f"give the address as HOST:PORT, not {address!r}")
        if not (raw_port.isascii() and raw_port.isdigit() and 0 < int(raw_port) < 65536):
            raise CommandError(f"the port is a number from 1 to 65535, not {raw_port!r}")
        port = int(raw_port)
        error = port_bind_error(host, port)
        if error is None:
            return
        if error.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} on {host} is in use by another program: stop it, or serve on "
                f"another port (make run PORT={port + 1})"
            )
        raise CommandError(f"cannot serve on {host}:{port}: {error.strerror}")
