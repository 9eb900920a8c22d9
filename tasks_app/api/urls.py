"""API routes, with the seed's paths (no trailing slash), the schema and its Swagger UI."""
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
    prices,
    views,
    webhooks,
    workspace,
)

urlpatterns = [
    path("auth/token", views.TokenView.as_view(), name="api-token"),
    path("workspace/tasks", workspace.TaskListView.as_view(), name="task-list"),
    path("workspace/tasks/<str:id>", workspace.TaskDetailView.as_view(), name="task-detail"),
    path("workspace/tasks/<str:id>/executions", workspace.TaskExecutionsView.as_view(), name="task-executions"),
    path("workspace/projects", workspace.ProjectListView.as_view(), name="project-list"),
    path("workspace/projects/<str:id>", workspace.ProjectDetailView.as_view(), name="project-detail"),
    path("agent/execute/<str:task_id>", agent.ExecuteView.as_view(), name="agent-execute"),
    path("agent/status/<str:task_id>", agent.StatusView.as_view(), name="agent-status"),
    path("agent/metrics", agent.MetricsView.as_view(), name="agent-metrics"),
    path("agent/<str:task_id>/pause", agent.PauseView.as_view(), name="agent-pause"),
    path("agent/<str:task_id>/resume", agent.ResumeView.as_view(), name="agent-resume"),
    path("agent/<str:task_id>/cancel", agent.CancelView.as_view(), name="agent-cancel"),
    path("agent/<str:task_id>/trace", agent.TraceView.as_view(), name="agent-trace"),
    path("agent/<str:task_id>/replay", agent.ReplayView.as_view(), name="agent-replay"),
    path("agent/<str:task_id>/rollback", agent.RollbackView.as_view(), name="agent-rollback"),
    path("agent/<str:task_id>/events", agent.EventsView.as_view(), name="agent-events"),
    path("agent/<str:task_id>/approvals", approvals.TaskApprovalsView.as_view(), name="agent-approvals"),
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
