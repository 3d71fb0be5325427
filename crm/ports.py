"""Whether a server could listen on a TCP port now, asked as the server would ask: by binding it."""

import socket


def port_bind_error(host: str, port: int) -> OSError | None:
    """What stops a server from listening on host:port now, or None when nothing does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As Django's development server binds: a port left in TIME_WAIT by a server just
        # stopped is free to it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error
    return None
