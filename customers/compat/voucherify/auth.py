"""How Voucherify clients authenticate: X-App-Id and X-App-Token headers."""

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from crm.api.authentication import client_for_key


class AppKeys(BaseAuthentication):
    """X-App-Id (the organization's slug) with X-App-Token (one of its API keys)."""

    def authenticate(self, request):
        app_id = request.headers.get("X-App-Id", "")
        token = request.headers.get("X-App-Token", "")
        if not app_id and not token:
            return None
        client, api_key = client_for_key(token)
        if client.organization.slug != app_id:
            raise AuthenticationFailed("The X-App-Id does not match the X-App-Token.")
        return client, api_key

    def authenticate_header(self, request):
        return "X-App-Token"
