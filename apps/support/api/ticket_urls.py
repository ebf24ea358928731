from django.urls import path

from . import ticket_views as views

# Mounted at "api/support/" (no trailing slashes, as in the API guide).
urlpatterns = [
    path("tickets", views.TicketListCreateView.as_view(), name="support-ticket-list"),
    path("tickets/<str:ticket_id>", views.TicketDetailView.as_view(), name="support-ticket-detail"),
    path("tickets/<str:ticket_id>/messages", views.TicketMessageCreateView.as_view(), name="support-ticket-messages"),
    path(
        "tickets/<str:ticket_id>/attachments/<int:attachment_id>",
        views.TicketAttachmentDownloadView.as_view(),
        name="support-ticket-attachment",
    ),
]
