"""Routes of the server-rendered pages."""

from __future__ import annotations

from django.urls import path

from annotation import views

urlpatterns = [
    path("", views.home, name="home"),
    path("staff/items/<int:item_id>/overlay.png", views.item_overlay, name="item-overlay"),
]
