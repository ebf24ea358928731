from django.urls import path

from . import views

# Mounted at "api/transactions" (no trailing slash, as in the API guide).
urlpatterns = [
    path("", views.TransactionListView.as_view(), name="transaction-list"),
    path("/prepare", views.TransactionPrepareView.as_view(), name="transaction-prepare"),
    path("/broadcast", views.TransactionBroadcastView.as_view(), name="transaction-broadcast"),
    path("/<str:tx_hash>/status", views.TransactionStatusView.as_view(), name="transaction-status"),
]
