"""Routes of the REST API under /api/v1/."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from annotation import apis

router = DefaultRouter()
router.register("benchmarks", apis.BenchmarkViewSet, basename="benchmark")
router.register("models", apis.EditModelViewSet, basename="editmodel")
router.register("studies", apis.StudyViewSet, basename="study")

urlpatterns = router.urls
