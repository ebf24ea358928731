"""Mounted at /api/webhooks/kyc/ (engipay/urls.py)."""

from django.urls import path

from .webhook_views import SumsubWebhookView

urlpatterns = [
    path("sumsub", SumsubWebhookView.as_view(), name="kyc-webhook-sumsub"),
]
