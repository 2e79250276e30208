"""Routes of the server-rendered pages."""

from __future__ import annotations

from django.urls import path

from annotation import views

urlpatterns = [
    path("", views.home, name="home"),
    path("staff/items/<int:item_id>/overlay.png", views.item_overlay, name="item-overlay"),
    path("studies/<int:study_id>/", views.study_dashboard, name="study-dashboard"),
    path("studies/<int:study_id>/report/", views.study_report_page, name="study-report"),
    path("rate/", views.rater_home, name="rater-home"),
    path("s/<slug:slug>/", views.crowd_entry, name="crowd-entry"),
    path("s/<slug:slug>/start/", views.rater_start, name="rater-start"),
    path("s/<slug:slug>/practice/", views.rater_practice, name="rater-practice"),
    path(
        "s/<slug:slug>/practice/<int:index>/<str:which>.png",
        views.rater_practice_image,
        name="rater-practice-image",
    ),
    path("s/<slug:slug>/task/", views.rater_task, name="rater-task"),
    path("s/<slug:slug>/done/", views.rater_done, name="rater-done"),
    path("s/<slug:slug>/api/next", views.rater_next, name="rater-next"),
    path("s/<slug:slug>/api/submit", views.rater_submit, name="rater-submit"),
    path("s/<slug:slug>/api/broken", views.rater_broken, name="rater-broken"),
    path(
        "s/<slug:slug>/img/<int:assignment_id>/<str:which>.png",
        views.rater_image,
        name="rater-image",
    ),
]
