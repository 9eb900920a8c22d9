"""ASGI entry point: HTTP to Django, websockets to the Channels consumers (session or token auth)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xantuus.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from tasks_app.routing import websocket_urlpatterns  # noqa: E402
from tasks_app.ws_auth import TokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {"http": django_asgi_app,
     "websocket": AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))}
)
