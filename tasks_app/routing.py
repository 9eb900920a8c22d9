"""Websocket routes: the progress feed of one task, or of all of the user's tasks."""
from django.urls import URLPattern, path

from .consumers import TaskFeedConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/tasks/", TaskFeedConsumer.as_asgi()),
    path("ws/tasks/<str:task_id>/", TaskFeedConsumer.as_asgi()),
]
