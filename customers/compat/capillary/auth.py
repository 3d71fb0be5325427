"""How Capillary clients authenticate: HTTP Basic with the API key as the password."""

import base64
import binascii

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from crm.api.authentication import client_for_key
from customers.compat.authentication import authorization


class BasicPasswordKey(BaseAuthentication):
    """HTTP Basic with any user name and the API key as the password."""

    def authenticate(self, request):
        scheme, credentials = authorization(request)
        if scheme != "basic" or not credentials:
            return None
        try:
            _, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
        return client_for_key(password)

    def authenticate_header(self, request):
        return 'Basic realm="api"'
