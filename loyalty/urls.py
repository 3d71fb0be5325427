from django.urls import path

from . import views

urlpatterns = [
    path("cards/<slug:token>/", views.card_page, name="card-page"),
    path("cards/<slug:token>/apple/", views.apple_wallet, name="card-apple-wallet"),
    path("cards/<slug:token>/google/", views.google_wallet, name="card-google-wallet"),
]
