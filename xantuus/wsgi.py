"""WSGI entry point (HTTP only; daphne serves asgi.py with websockets)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xantuus.settings")
application = get_wsgi_application()
