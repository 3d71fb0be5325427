"""Who is calling: an integrator with an API key (`Authorization: Bearer <key>`), or a staff member
signed in to the admin (for the browsable API). Either way the caller acts for one organization."""

from dataclasses import dataclass

from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from crm.actors import Actor
from crm.models import ApiKey, Organization
from crm.services import api_key_authenticate
from crm.two_factor import second_factor_satisfied

USER_CONTEXT_HEADERS = {
    "entity_type": "HTTP_USER_CONTEXT_ENTITY_TYPE",
    "entity_id": "HTTP_USER_CONTEXT_ENTITY_ID",
    "entity_source": "HTTP_USER_CONTEXT_ENTITY_SOURCE",
    "entity_source_id": "HTTP_USER_CONTEXT_ENTITY_SOURCE_ID",
}


@dataclass(frozen=True)
class ApiClient:
    """The `request.user` of a call made with an API key."""

    api_key: ApiKey
    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    @property
    def pk(self) -> str:
        return f"api-key-{self.api_key.pk}"

    @property
    def organization(self) -> Organization:
        return self.api_key.organization

    def __str__(self) -> str:
        return str(self.api_key)


def bearer_key(request) -> str | None:
    """The key of an `Authorization: Bearer <key>` header; None when there is no such header."""
    header = authentication.get_authorization_header(request).split()
    if not header or header[0].lower() != b"bearer":
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed("Give the API key as 'Authorization: Bearer <key>'.")
    try:
        return header[1].decode()
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed("The API key is not valid text.") from None


def client_for_key(raw_key: str) -> tuple[ApiClient, ApiKey]:
    api_key = api_key_authenticate(raw_key)
    if api_key is None:
        raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
    return ApiClient(api_key), api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw_key = bearer_key(request)
        return None if raw_key is None else client_for_key(raw_key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """A staff member's admin session, held to the admin's two-factor rule: a session that the
    admin would send back to its login page is no session here either."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None and not second_factor_satisfied(found[0]):
            raise exceptions.AuthenticationFailed(
                "This account must log in to the admin with its second factor first."
            )
        return found


def request_organization(request) -> Organization:
    organization = getattr(request.user, "organization", None)
    if organization is None:
        raise exceptions.PermissionDenied("This account does not belong to an organization.")
    return organization


def request_actor(request) -> Actor:
    """The caller, with the user-context headers it sent, for the ledgers and the audit trail."""
    if isinstance(request.user, ApiClient):
        context = {
            name: request.META[header][:255]
            for name, header in USER_CONTEXT_HEADERS.items()
            if request.META.get(header)
        }
        return Actor.api_key(request.user.api_key, context, request_id=request.request_id)
    return Actor.staff(request.user, request_id=request.request_id)


class CallerView:
    """A view's caller, as its services need it: the organization it acts for and the actor the
    ledgers and the audit trail record."""

    @property
    def organization(self) -> Organization:
        return request_organization(self.request)

    @property
    def actor(self) -> Actor:
        return request_actor(self.request)


class ActsForAnOrganization(BasePermission):
    message = "This account does not belong to an organization."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "organization", None))
