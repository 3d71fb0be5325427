from django.urls import path

from customers.compat.leal.views import (
    CardsView,
    CustomerCardsView,
    CustomerCardView,
    CustomersView,
    CustomerView,
    RedeemView,
    RewardsView,
    StampView,
)

account = "api/v1/accounts/<str:account_id>/"
customer = f"{account}customers/<str:customer_id>"
urlpatterns = [
    path(f"{account}customers", CustomersView.as_view(), name="leal-customers"),
    path(customer, CustomerView.as_view(), name="leal-customer"),
    path(f"{customer}/customer_cards", CustomerCardsView.as_view(), name="leal-customer-cards"),
    path(
        f"{customer}/customer_cards/<str:card_id>",
        CustomerCardView.as_view(),
        name="leal-customer-card",
    ),
    path(f"{customer}/customer_cards/<str:card_id>/stamp", StampView.as_view(), name="leal-stamp"),
    path(
        f"{customer}/customer_cards/<str:card_id>/redeem", RedeemView.as_view(), name="leal-redeem"
    ),
    path(f"{account}cards", CardsView.as_view(), name="leal-cards"),
    path(f"{account}rewards", RewardsView.as_view(), name="leal-rewards"),
]
