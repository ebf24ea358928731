from django.urls import path

from . import dispute_views as views

# Mounted at "api/payments/escrow/<uuid:escrow_id>/dispute/" (no trailing slashes, as in the API guide).
urlpatterns = [
    path("statements", views.DisputeStatementsView.as_view(), name="escrow-dispute-statements"),
    path("evidence/<int:evidence_id>", views.DisputeEvidenceDownloadView.as_view(), name="escrow-dispute-evidence"),
]
