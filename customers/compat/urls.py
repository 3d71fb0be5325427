"""Each vendor's API under its own base URL; past the prefix, paths are the vendor's own."""

from django.urls import include, path, re_path

from . import capillary, jericommerce, leal, voucherify

jericommerce_urls = [
    path(
        "v1/programs/<str:program_id>/integrations/api",
        jericommerce.IntegrationView.as_view(),
        name="jericommerce-integration",
    ),
]

capillary_urls = [
    re_path(r"^v2/customers/?$", capillary.CustomersView.as_view(), name="capillary-customers"),
    path(
        "v2/customers/<str:customer_id>",
        capillary.CustomersView.as_view(),
        name="capillary-customer",
    ),
]

voucherify_urls = [
    path("v1/customers", voucherify.CustomersView.as_view(), name="voucherify-customers"),
    path("v1/customers/<str:key>", voucherify.CustomerView.as_view(), name="voucherify-customer"),
]

leal_account = "api/v1/accounts/<str:account_id>/"
leal_urls = [
    path(f"{leal_account}customers", leal.CustomersView.as_view(), name="leal-customers"),
    path(
        f"{leal_account}customers/<str:customer_id>",
        leal.CustomerView.as_view(),
        name="leal-customer",
    ),
    path(
        f"{leal_account}customers/<str:customer_id>/customer_cards",
        leal.CustomerCardsView.as_view(),
        name="leal-customer-cards",
    ),
    path(
        f"{leal_account}customers/<str:customer_id>/customer_cards/<str:card_id>",
        leal.CustomerCardView.as_view(),
        name="leal-customer-card",
    ),
    path(
        f"{leal_account}customers/<str:customer_id>/customer_cards/<str:card_id>/stamp",
        leal.StampView.as_view(),
        name="leal-stamp",
    ),
    path(
        f"{leal_account}customers/<str:customer_id>/customer_cards/<str:card_id>/redeem",
        leal.RedeemView.as_view(),
        name="leal-redeem",
    ),
    path(f"{leal_account}cards", leal.CardsView.as_view(), name="leal-cards"),
    path(f"{leal_account}rewards", leal.RewardsView.as_view(), name="leal-rewards"),
]

urlpatterns = [
    path("jericommerce/", include(jericommerce_urls)),
    path("capillary/", include(capillary_urls)),
    path("voucherify/", include(voucherify_urls)),
    path("leal/", include(leal_urls)),
]
