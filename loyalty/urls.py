from django.urls import path

from . import views

urlpatterns = [
    path("cards/<str:token>/", views.card_page, name="card-page"),
    path("cards/<str:token>/apple/", views.apple_wallet, name="card-apple-wallet"),
    path("cards/<str:token>/google/", views.google_wallet, name="card-google-wallet"),
]
