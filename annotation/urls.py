"""Routes of the server-rendered pages."""

from __future__ import annotations

from django.urls import path, re_path

from annotation import staff_views, views

STUDY = "studies/<int:study_id>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("staff/items/<int:item_id>/overlay.png", views.item_overlay, name="item-overlay"),
    # Staff pages (staff_views): the wizard, the live dashboard and what it links to.
    path("staff/", staff_views.staff_home, name="staff-home"),
    path("staff/studies/new/", staff_views.study_new, name="study-new"),
    path("staff/items/preview.json", staff_views.items_preview, name="items-preview"),
    path("staff/edits/<int:edit_id>.png", staff_views.edit_image, name="edit-image"),
    path(STUDY, staff_views.study_dashboard, name="study-dashboard"),
    path(STUDY + "edit/", staff_views.study_edit, name="study-edit"),
    path(STUDY + "report/", staff_views.study_report_page, name="study-report"),
    path(STUDY + "download/<str:output>/", staff_views.study_download, name="study-download"),
    path(STUDY + "raters/<int:rater_id>/", staff_views.study_rater, name="study-rater"),
    path(STUDY + "approvals/", staff_views.study_approvals, name="study-approvals"),
    path(STUDY + "gallery/", staff_views.study_gallery_index, name="study-gallery"),
    path(STUDY + "preview/", staff_views.study_preview, name="study-preview"),
    path(
        "staff/items/<int:item_id>/<str:which>.png",
        staff_views.preview_item_image,
        name="preview-item-image",
    ),
    path(
        STUDY + "gallery/<int:item_id>/", staff_views.study_gallery_item, name="study-gallery-item"
    ),
    re_path(
        r"^studies/(?P<study_id>[0-9]+)/(?P<action>generate|launch|pause|close)/$",
        staff_views.study_action,
        name="study-action",
    ),
    # Raters
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
