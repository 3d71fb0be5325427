"""Reading the Authorization header, and the Bearer scheme that Capillary and Leal accept."""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from crm.api.authentication import client_for_key


def authorization(request) -> tuple[str, str]:
    """The scheme (lower-case) and credentials of the Authorization header; ("", "") if none."""
    try:
        header = get_authorization_header(request).decode()
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(
            "The Authorization header is not valid text."
        ) from None
    scheme, _, credentials = header.strip().partition(" ")
    return scheme.lower(), credentials.strip()


class BearerKey(BaseAuthentication):
    """`Authorization: Bearer <key>`."""

    def authenticate(self, request):
        scheme, credentials = authorization(request)
        if scheme != "bearer" or not credentials:
            return None
        return client_for_key(credentials)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
