from django.urls import path

from . import views

# Mounted at "api/prices/".
urlpatterns = [
    path("current", views.PricesCurrentView.as_view(), name="prices-current"),
    path("history", views.PriceHistoryView.as_view(), name="prices-history"),
]
