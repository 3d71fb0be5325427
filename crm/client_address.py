"""The address a request came from, as the login lockout counts it."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The peer of the connection; behind TRUSTED_PROXY_COUNT proxies, the address the farthest
    of them saw, read from the right of X-Forwarded-For, where those proxies wrote it (what a
    client put to the left of them is not believed)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [
        address.strip()
        for address in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if address.strip()
    ]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")
