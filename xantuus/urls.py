"""URL routes: the admin, the API (errors on /api/ paths answer in the API's JSON format) and the web pages."""
from django.contrib import admin
from django.urls import include, path

from tasks_app.login_forms import AdminLoginForm

# The admin's login passes the same guard as the pages' and the API's (tasks_app/login_guard.py).
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("tasks_app.api.urls")),
    path("", include("tasks_app.ops_urls")),  # /healthz, /readyz, /metrics, /ops/
    path("", include("tasks_app.page_urls")),
]

handler400 = "tasks_app.api.errors.bad_request"
handler403 = "tasks_app.api.errors.permission_denied"
handler404 = "tasks_app.api.errors.not_found"
handler500 = "tasks_app.api.errors.server_error"
