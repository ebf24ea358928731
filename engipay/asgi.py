"""ASGI entry point: HTTP to Django, websockets to Channels consumers (authenticated with the API token)."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engipay.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.notifications.routing import websocket_urlpatterns as notification_routes  # noqa: E402
from apps.support.routing import websocket_urlpatterns as support_routes  # noqa: E402
from engipay.body_limit import BodyLimit  # noqa: E402
from engipay.bootstrap import prepare  # noqa: E402
from engipay.edge_cache import EdgeCache  # noqa: E402
from engipay.ws_auth import QueryTokenAuthMiddleware  # noqa: E402

prepare()

# The KYC vendors' webhooks (apps.kyc.api.webhook_views.WEBHOOK_MAX_BYTES; not imported: apps import this module in
# their tests, and the layers forbid most of them kyc. tests/test_body_limit.py checks the two agree).
KYC_WEBHOOK_MAX_BYTES = 64 * 1024

websocket_urlpatterns = [*notification_routes, *support_routes]

application = ProtocolTypeRouter(
    {
        # Unauthenticated webhook bodies are refused past their limit before Django reads (and spools) them; the
        # longest prefix wins, so the KYC vendors' webhooks keep their own limit. Anonymous GETs of paths the apps
        # register (help search) may be answered from Redis before Django.
        "http": BodyLimit(
            EdgeCache(django_asgi_app),
            limits={
                "/api/webhooks/": lambda: settings.WEBHOOK_MAX_BYTES,
                "/api/webhooks/kyc/": KYC_WEBHOOK_MAX_BYTES,
            },
        ),
        # No Origin check: sockets authenticate with an explicit token, never a cookie, so a foreign page cannot
        # ride on a visitor's session (cross-site websocket hijacking needs ambient credentials).
        "websocket": QueryTokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)

# Everything imported so far lives as long as the process: keep it out of the collector's full scans, which
# otherwise walk it every time and stall every socket and request of the process (tail latency).
gc.freeze()
