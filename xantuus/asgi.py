"""ASGI entry point: HTTP to Django, websockets to the Channels consumers (session or token auth).

Websocket handshakes from another site's page are refused first (tasks_app/ws_auth.py
SameOriginValidator). Static files (the pages' CSS/JS, the admin's, Swagger UI's) are served
here too unless XANTUUS_SERVE_STATIC is off (a front server serves STATIC_ROOT after collectstatic).
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xantuus.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from tasks_app.routing import websocket_urlpatterns  # noqa: E402
from tasks_app.static_files import StaticFilesHandler  # noqa: E402
from tasks_app.ws_auth import SameOriginValidator, TokenAuthMiddleware  # noqa: E402

http_app = StaticFilesHandler(django_asgi_app) if settings.XANTUUS_SERVE_STATIC else django_asgi_app

application = ProtocolTypeRouter(
    {"http": http_app,
     "websocket": SameOriginValidator(AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns))))}
)
