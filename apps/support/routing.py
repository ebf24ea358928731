"""Websocket routes of support: the guide's chat path, and the agents' console."""

websocket_urlpatterns: list = []
