"""Websocket routes (the progress feed's consumers are added by the interfaces work)."""
from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
