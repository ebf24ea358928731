from django.urls import path

from . import chat_views as views

# Mounted at "api/support/" (no trailing slashes, as in the API guide). The chat websocket lives at
# "api/support/chat/<session_id>" (apps/support/routing.py).
urlpatterns = [
    path("chat/sessions", views.ChatSessionCollectionView.as_view(), name="support-chat-sessions"),
    path("chat/sessions/<str:session_id>", views.ChatSessionDetailView.as_view(), name="support-chat-session"),
    path(
        "chat/sessions/<str:session_id>/messages",
        views.ChatSessionMessagesView.as_view(),
        name="support-chat-messages",
    ),
    path("chat/sessions/<str:session_id>/end", views.ChatSessionEndView.as_view(), name="support-chat-end"),
    path("chat/sessions/<str:session_id>/ticket", views.ChatSessionTicketView.as_view(), name="support-chat-ticket"),
]
