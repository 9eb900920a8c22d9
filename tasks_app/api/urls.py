"""API routes, with the seed's paths (no trailing slash), the schema and its Swagger UI.

The task lifecycle is the router's (tasks_app/api/router.py): the workspace's tasks and projects
and the agent's actions are viewsets; the other resources are single views.
"""
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import (
    agent,
    approvals,
    audit,
    contacts,
    credentials,
    credits,
    crm,
    dead_letters,
    files,
    policies,
    prices,
    views,
    webhooks,
    workspace,
)
from .router import Router

router = Router()
router.register("workspace/tasks", workspace.TaskViewSet, basename="task")
router.register("workspace/projects", workspace.ProjectViewSet, basename="project")
router.register("agent", agent.AgentViewSet, basename="agent")

urlpatterns = [
    path("auth/token", views.TokenView.as_view(), name="api-token"),
    *router.urls,
    path("approvals", approvals.InboxView.as_view(), name="approvals"),
    *policies.urlpatterns,
    path("approvals/<str:approval_id>/decide", approvals.DecideView.as_view(), name="approval-decide"),
    path("tools", views.ToolsView.as_view(), name="tools"),
    *dead_letters.urlpatterns,
    *credentials.urlpatterns,
    *files.urlpatterns,
    *crm.urlpatterns,
    *contacts.urlpatterns,
    *prices.urlpatterns,
    *credits.urlpatterns,
    *webhooks.urlpatterns,
    *audit.urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # the page's inline set-up carries the Content-Security-Policy nonce (tasks_app/security_headers.py)
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema", template_name="tasks_app/swagger_ui.html"),
         name="api-docs"),
]
