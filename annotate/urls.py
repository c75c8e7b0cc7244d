"""Labeler pages: login, project list, the ranking screen and its JSON endpoints."""

from django.contrib.auth import views as auth_views
from django.urls import path

from annotate import screen_views, views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("projects/<int:project_id>/label/", views.label, name="label"),
    path("projects/<int:project_id>/label/lease", screen_views.lease, name="label-lease"),
    path(
        "projects/<int:project_id>/label/assignments/<int:assignment_id>/judgment",
        screen_views.judgment,
        name="label-judgment",
    ),
    path(
        "projects/<int:project_id>/label/assignments/<int:assignment_id>/skip",
        screen_views.skip,
        name="label-skip",
    ),
    path("projects/<int:project_id>/label/undo", screen_views.undo, name="label-undo"),
]
