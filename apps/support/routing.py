"""Websocket routes of support: the guide's chat path, and the agents' console."""

from django.urls import path

from .consumers import AgentConsoleConsumer, ChatConsumer

websocket_urlpatterns = [
    path("api/support/chat/<str:session_id>", ChatConsumer.as_asgi()),
    path("ws/support/agent/", AgentConsoleConsumer.as_asgi()),
]
