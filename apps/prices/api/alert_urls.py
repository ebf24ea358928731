from django.urls import path

from . import alert_views

# Mounted at "api/notifications/price-alerts" (no trailing slash, as the notifications endpoints).
urlpatterns = [
    path("", alert_views.PriceAlertListCreateView.as_view(), name="price-alert-list"),
    path("/<uuid:alert_id>", alert_views.PriceAlertDetailView.as_view(), name="price-alert-detail"),
    path("/<uuid:alert_id>/rearm", alert_views.PriceAlertRearmView.as_view(), name="price-alert-rearm"),
]
