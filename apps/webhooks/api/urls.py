"""Mounted at /api/webhooks/ (engipay/urls.py); KYC vendors' webhooks are under /api/webhooks/kyc/."""

from django.urls import path

from .views import BlockchainWebhookView, DefiWebhookView, PricesWebhookView

urlpatterns = [
    path("blockchain/transaction", BlockchainWebhookView.as_view(), name="webhook-blockchain-transaction"),
    path("prices/update", PricesWebhookView.as_view(), name="webhook-prices-update"),
    path("defi/position-update", DefiWebhookView.as_view(), name="webhook-defi-position-update"),
]
