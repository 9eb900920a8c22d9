"""Routes for operators (included at "" by xantuus/urls.py): health, Prometheus metrics, the staff dashboard;
and the trace viewer's downloads (a task's trace as JSON, its steps' screenshots)."""
from django.urls import path

from . import health, ops_pages, prometheus, trace_pages

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", prometheus.metrics_view, name="metrics"),
    path("ops/", ops_pages.ops_dashboard, name="ops-dashboard"),
    path("ops/live", ops_pages.ops_live, name="ops-live"),
    path("tasks/<str:task_id>/trace.json", trace_pages.trace_download, name="task-trace-download"),
    path("tasks/<str:task_id>/steps/<str:step_id>/screenshots/<int:number>", trace_pages.step_screenshot,
         name="step-screenshot"),
]
