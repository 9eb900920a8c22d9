"""Routes for operators (included at "" by xantuus/urls.py): health, Prometheus metrics, the staff dashboard."""
from django.urls import path

from . import health, ops_pages, prometheus

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", prometheus.metrics_view, name="metrics"),
    path("ops/", ops_pages.ops_dashboard, name="ops-dashboard"),
    path("ops/live", ops_pages.ops_live, name="ops-live"),
]
