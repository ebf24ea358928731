from django.urls import path

from . import views

urlpatterns = [
    path("balances/real", views.RealBalancesView.as_view(), name="portfolio-balances-real"),
]
