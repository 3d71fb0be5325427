"""The native REST API, /api/v1/."""

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from crm.api.fields import IdConverter
from crm.api.views import StoreViewSet
from customers.api.status_labels import StatusLabelViewSet
from customers.api.views import (
    ChannelViewSet,
    CustomerViewSet,
    ExtendedFieldViewSet,
    IdentifierViewSet,
)
from loyalty.api.purchases import CustomerTransactionViewSet, TransactionViewSet
from loyalty.api.returns import TransactionReturnViewSet
from loyalty.api.rewards_catalogue import ProgramRewardsViewSet, RewardRedemptionViewSet
from loyalty.api.views import (
    CardViewSet,
    CouponViewSet,
    CustomerCardViewSet,
    PointsViewSet,
    ProgramViewSet,
    StampCardViewSet,
)

register_converter(IdConverter, "id")

router = DefaultRouter()
router.include_root_view = False
router.register("customers", CustomerViewSet, basename="customer")
router.register("stores", StoreViewSet, basename="store")
router.register("programs", ProgramViewSet, basename="program")
router.register("stamp-cards", StampCardViewSet, basename="stamp-card")
router.register("extended-fields", ExtendedFieldViewSet, basename="extended-field")
router.register("status-labels", StatusLabelViewSet, basename="status-label")
router.register("coupons", CouponViewSet, basename="coupon")
router.register("cards", CardViewSet, basename="card")
router.register("transactions", TransactionViewSet, basename="transaction")

CUSTOMER = "customers/<str:customer_id>"
ROWS = {"get": "list", "post": "create"}
ROW = {"patch": "partial_update", "delete": "destroy"}

urlpatterns = [
    path(f"{CUSTOMER}/identifiers/", IdentifierViewSet.as_view(ROWS), name="customer-identifiers"),
    path(
        f"{CUSTOMER}/identifiers/<id:pk>/",
        IdentifierViewSet.as_view(ROW),
        name="customer-identifier",
    ),
    path(f"{CUSTOMER}/channels/", ChannelViewSet.as_view(ROWS), name="customer-channels"),
    path(f"{CUSTOMER}/channels/<id:pk>/", ChannelViewSet.as_view(ROW), name="customer-channel"),
    path(f"{CUSTOMER}/points/", PointsViewSet.as_view(ROWS), name="customer-points"),
    path(f"{CUSTOMER}/cards/", CustomerCardViewSet.as_view(ROWS), name="customer-cards"),
    path(
        f"{CUSTOMER}/transactions/",
        CustomerTransactionViewSet.as_view({"get": "list"}),
        name="customer-transactions",
    ),
    path(
        "transactions/<id:transaction_id>/returns/",
        TransactionReturnViewSet.as_view({"post": "create"}),
        name="transaction-returns",
    ),
    path(
        f"{CUSTOMER}/rewards/<id:reward_id>/redeem/",
        RewardRedemptionViewSet.as_view({"post": "create"}),
        name="customer-reward-redeem",
    ),
    path(
        "programs/<id:program_id>/rewards/",
        ProgramRewardsViewSet.as_view({"get": "list"}),
        name="program-rewards",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file (?script): the Content-Security-Policy
    # runs no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    *router.urls,
]
