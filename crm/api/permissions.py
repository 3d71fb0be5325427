"""What a caller may do through /api/v1/.

An API key acts for its whole organization: it may call every route. A staff member signed in to
the admin (the browsable API, or any client holding their session and CSRF token) may do through
the API what the admin and the console let them do, no more: each route and method below names
the Django permissions it needs, the same ones the admin checks for the model and the console
checks for the action (customers/console.py `ACTIONS`). Superusers hold every permission; like
every caller, they act for their organization, so one without an organization is refused
(ActsForAnOrganization).

A route or method missing from the table is refused to staff: a new route is closed until it is
given its permission here.
"""

from rest_framework.permissions import BasePermission

from .authentication import ApiClient

VIEW_CUSTOMER = ("customers.view_customer",)
ADD_CUSTOMER = ("customers.add_customer",)
CHANGE_CUSTOMER = ("customers.change_customer",)

# Route name (crm/config/api_urls.py) -> HTTP method -> every permission a staff member needs
# for it.
ROUTE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "customer-list": {"GET": VIEW_CUSTOMER, "POST": ADD_CUSTOMER},
    "customer-detail": {
        "GET": VIEW_CUSTOMER,
        "PATCH": CHANGE_CUSTOMER,
        "DELETE": ("customers.delete_customer",),
    },
    # An upsert registers or updates each customer.
    "customer-batch": {"POST": ADD_CUSTOMER + CHANGE_CUSTOMER},
    "customer-identifiers": {
        "GET": ("customers.view_identifier",),
        "POST": ("customers.add_identifier",),
    },
    "customer-identifier": {
        "PATCH": ("customers.change_identifier",),
        "DELETE": ("customers.delete_identifier",),
    },
    "customer-channels": {
        "GET": ("customers.view_commchannel",),
        "POST": ("customers.add_commchannel",),
    },
    "customer-channel": {
        "PATCH": ("customers.change_commchannel",),
        "DELETE": ("customers.delete_commchannel",),
    },
    # The console's "Award or deduct points".
    "customer-points": {
        "GET": ("loyalty.view_pointstransaction",),
        "POST": ("customers.adjust_points",),
    },
    # The console's "Issue a stamp card".
    "customer-cards": {"GET": ("loyalty.view_customercard",), "POST": CHANGE_CUSTOMER},
    "card-detail": {"GET": ("loyalty.view_customercard",)},
    # The console's "Add stamps", "Redeem a reward" and "Resend card links".
    "card-stamps": {"POST": ("customers.add_stamps",)},
    "card-redeem": {"POST": ("customers.add_stamps",)},
    "card-send-links": {"POST": ("customers.send_card_links",)},
    # The console's "Redeem a points reward": what it costs is the reward's, not the staff's, call.
    "customer-reward-redeem": {"POST": CHANGE_CUSTOMER},
    # The console's "Issue a coupon"; redeeming one is the same care of the customer's coupons.
    "coupon-list": {"GET": ("loyalty.view_coupon",), "POST": CHANGE_CUSTOMER},
    "coupon-detail": {"GET": ("loyalty.view_coupon",)},
    "coupon-redeem": {"POST": CHANGE_CUSTOMER},
    "store-list": {"GET": ("crm.view_store",), "POST": ("crm.add_store",)},
    "store-detail": {"GET": ("crm.view_store",), "PATCH": ("crm.change_store",)},
    "program-list": {"GET": ("loyalty.view_program",)},
    "program-detail": {"GET": ("loyalty.view_program",)},
    "program-earning-rules": {"GET": ("loyalty.view_earningrule",)},
    # Writes nothing: what a purchase would earn is read from the programme's rules.
    "program-simulate": {"POST": ("loyalty.view_earningrule",)},
    # Supervisors' (the console's "Add a missing purchase"), and integrators'.
    "transaction-list": {
        "GET": ("loyalty.view_transaction",),
        "POST": ("loyalty.add_transaction",),
    },
    # Each purchase of a batch is recorded as POST transactions/ records one.
    "transaction-batch": {"POST": ("loyalty.add_transaction",)},
    "transaction-detail": {"GET": ("loyalty.view_transaction",)},
    # A return is recorded by the seller's systems, as the purchase is.
    "transaction-returns": {"POST": ("loyalty.add_return",)},
    "customer-transactions": {"GET": ("loyalty.view_transaction",)},
    "program-rewards": {"GET": ("loyalty.view_program",)},
    "stamp-card-list": {"GET": ("loyalty.view_stampcard",)},
    "stamp-card-detail": {"GET": ("loyalty.view_stampcard",)},
    "extended-field-list": {
        "GET": ("customers.view_extendedfielddefinition",),
        "POST": ("customers.add_extendedfielddefinition",),
    },
    "extended-field-detail": {
        "GET": ("customers.view_extendedfielddefinition",),
        "PATCH": ("customers.change_extendedfielddefinition",),
        "DELETE": ("customers.delete_extendedfielddefinition",),
    },
    "status-label-list": {
        "GET": ("customers.view_statuslabel",),
        "POST": ("customers.add_statuslabel",),
    },
    "status-label-detail": {
        "GET": ("customers.view_statuslabel",),
        "PATCH": ("customers.change_statuslabel",),
        "DELETE": ("customers.delete_statuslabel",),
    },
}


def required_permissions(route_name: str | None, method: str) -> tuple[str, ...] | None:
    """The permissions staff need to call `method` on the route; None when it is not listed."""
    method = "GET" if method == "HEAD" else method
    return ROUTE_PERMISSIONS.get(route_name or "", {}).get(method)


class StaffModelPermissions(BasePermission):
    """API keys pass; staff need the route's permissions (ROUTE_PERMISSIONS)."""

    message = "You do not have permission to do this."

    def has_permission(self, request, view):
        user = request.user
        if isinstance(user, ApiClient):
            return True
        if request.method == "OPTIONS":
            return True  # describes the route; each method it lists is checked on its own
        match = request.resolver_match
        needed = required_permissions(match.url_name if match else None, request.method)
        if needed is None:
            self.message = "This route is not open to staff accounts."
            return False
        missing = [permission for permission in needed if not user.has_perm(permission)]
        if missing:
            self.message = f"You do not have permission to do this (it needs {', '.join(missing)})."
            return False
        return True
