"""ASGI entry point: HTTP to Django, websockets to Channels consumers (authenticated with the API token)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engipay.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.notifications.routing import websocket_urlpatterns as notification_routes  # noqa: E402
from engipay.bootstrap import prepare  # noqa: E402
from engipay.ws_auth import QueryTokenAuthMiddleware  # noqa: E402

prepare()

websocket_urlpatterns = [*notification_routes]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(QueryTokenAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
