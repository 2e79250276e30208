"""Top-level URL routes."""

from __future__ import annotations

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from annotation.apis import api_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    # Sign-in, sign-out and password change for staff and internal raters (LOGIN_URL).
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("annotation.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI and Redoc are served from drf-spectacular-sidecar's static files: offline.
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(
            url_name="schema", template_name="annotation/staff/redoc.html"
        ),
        name="api-redoc",
    ),
    re_path(r"^api/", api_not_found),
    path("", include("annotation.urls")),
]

if settings.DEBUG:
    # Uploaded and generated images; production serves MEDIA_ROOT from the web server.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
