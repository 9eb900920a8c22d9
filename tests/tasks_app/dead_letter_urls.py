"""The project's routes plus the dead-letter API under /api/ (until tasks_app/api/urls.py includes it)."""
from django.urls import include, path

from xantuus.urls import handler404  # noqa: F401 - handlers re-exported
from xantuus.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("api/", include("tasks_app.api.dead_letters")), *project_urlpatterns]
