"""Routes of the web pages (included at "" by xantuus/urls.py): login, dashboard, tasks."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(template_name="tasks_app/login.html",
                                                redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tasks/", pages.task_list, name="task-list-page"),
    path("tasks/new", pages.task_new, name="task-new"),
    path("tasks/<str:task_id>/", pages.task_detail, name="task-detail-page"),
    path("tasks/<str:task_id>/live", pages.task_live, name="task-live"),
    path("notifications/read", pages.notifications_read, name="notifications-read"),
]
