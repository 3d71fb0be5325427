"""How Jericommerce clients authenticate: the API key itself in the Authorization header."""

from rest_framework.authentication import BaseAuthentication

from crm.api.authentication import client_for_key
from customers.compat.authentication import authorization


class AuthorizationKey(BaseAuthentication):
    """The key itself in the Authorization header, with or without "Bearer"."""

    def authenticate(self, request):
        scheme, credentials = authorization(request)
        if not scheme:
            return None
        header = request.META["HTTP_AUTHORIZATION"].strip()
        return client_for_key(credentials if scheme == "bearer" else header)

    def authenticate_header(self, request):
        return "Bearer"
