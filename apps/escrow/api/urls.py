from django.urls import include, path

from . import views

# Mounted at "api/payments/escrow" (no trailing slash, as in the API guide).
urlpatterns = [
    path("", views.EscrowListView.as_view(), name="escrow-list"),
    path("/create", views.EscrowCreateView.as_view(), name="escrow-create"),
    path("/<uuid:escrow_id>", views.EscrowDetailView.as_view(), name="escrow-detail"),
    path("/<uuid:escrow_id>/accept", views.EscrowAcceptView.as_view(), name="escrow-accept"),
    path("/<uuid:escrow_id>/reject", views.EscrowRejectView.as_view(), name="escrow-reject"),
    path("/<uuid:escrow_id>/cancel", views.EscrowCancelView.as_view(), name="escrow-cancel"),
    path("/<uuid:escrow_id>/dispute", views.EscrowDisputeView.as_view(), name="escrow-dispute"),
    path("/<uuid:escrow_id>/refund", views.EscrowRefundView.as_view(), name="escrow-refund"),
    path("/<uuid:escrow_id>/withdraw", views.EscrowWithdrawView.as_view(), name="escrow-withdraw"),
    path("/<uuid:escrow_id>/submit", views.EscrowSubmitView.as_view(), name="escrow-submit"),
    path("/<uuid:escrow_id>/dispute/", include("apps.escrow.api.dispute_urls")),
]
