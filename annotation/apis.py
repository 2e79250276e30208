"""REST API under /api/v1/ (staff only): validate → one service or selector → serialize."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.models import Benchmark, Edit, EditModel, Study
from annotation.selectors.exports import EXPORTS, RAW_KINDS, ExportRequestError, study_export
from annotation.selectors.studies import study_progress
from annotation.serializers import (
    BenchmarkItemSerializer,
    BenchmarkSerializer,
    EditModelSerializer,
    EditSerializer,
    StudySerializer,
    StudySpecSerializer,
)
from annotation.services.benchmarks import edit_model_ensure
from annotation.services.crowd import platform_export_upload
from annotation.services.errors import ServiceError
from annotation.services.runner import study_generate_background
from annotation.services.studies import (
    study_close,
    study_create_from_spec,
    study_launch,
    study_pause,
    study_spec_from_data,
    study_update,
)
from annotation.services.uploads import external_outputs_upload


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map a ServiceError to 400 (invalid input) or 409 (illegal in the current state)."""
    if isinstance(exc, ServiceError):
        return Response(
            {"detail": "; ".join(exc.problems), "errors": exc.problems}, status=exc.http_status
        )
    return drf_exception_handler(exc, context)


@csrf_exempt  # a 404 for any method: CSRF's HTML 403 must not answer first
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any path under /api/ that matches no route: the API's JSON 404, not an HTML page."""
    return JsonResponse({"detail": f"no API endpoint at {request.path}"}, status=404)


class BenchmarkViewSet(viewsets.ReadOnlyModelViewSet[Benchmark]):
    """Imported benchmarks (import them with `manage.py import_benchmark`)."""

    queryset = Benchmark.objects.all()
    serializer_class = BenchmarkSerializer

    @extend_schema(responses=BenchmarkItemSerializer(many=True))
    @action(detail=True, methods=["get"])
    def items(self, request: Request, pk: str | None = None) -> Response:
        benchmark = self.get_object()
        # DRF paginates any queryset; the stubs allow only the view's own model's.
        page = self.paginate_queryset(benchmark.items.all())  # type: ignore[arg-type]
        data = BenchmarkItemSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


class EditModelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[EditModel],
):
    """Models under evaluation: in-repo cascades, baselines, and external models."""

    queryset = EditModel.objects.all()
    serializer_class = EditModelSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = edit_model_ensure(**serializer.validated_data)
        return Response(EditModelSerializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "OutputsUpload",
                {"benchmark": serializers.IntegerField(), "archive": serializers.FileField()},
            )
        },
        responses={200: OpenApiResponse(description="per-file report; created > 0 when stored")},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def outputs(self, request: Request, pk: str | None = None) -> Response:
        """Upload a zip of an external model's outputs (all or nothing, per-file report)."""
        model = self.get_object()
        archive = request.FILES.get("archive")
        benchmark_id = request.data.get("benchmark")
        if archive is None or not str(benchmark_id or "").isdigit():
            raise ValidationError({"archive": "send a zip file", "benchmark": "a benchmark id"})
        benchmark = get_object_or_404(Benchmark, pk=int(str(benchmark_id)))
        report = external_outputs_upload(model=model, benchmark=benchmark, archive=archive)
        body = {
            "created": report.created,
            "files": [{"name": f.name, "ok": f.ok, "message": f.message} for f in report.files],
        }
        return Response(body, status=status.HTTP_200_OK if report.ok else 400)


class StudyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Study],
):
    """Studies: create from a spec, change while draft, then generate → launch → pause → close."""

    queryset = Study.objects.all()
    serializer_class = StudySerializer

    def get_queryset(self) -> QuerySet[Study]:
        return Study.objects.select_related("benchmark").prefetch_related("edit_models")

    def _spec(self, request: Request) -> dict[str, Any]:
        spec = StudySpecSerializer(data=request.data)
        spec.is_valid(raise_exception=True)
        return dict(spec.validated_data)

    @extend_schema(request=StudySpecSerializer, responses={201: StudySerializer})
    def create(self, request: Request) -> Response:
        spec = self._spec(request)
        study = study_create_from_spec(owner=request.user, spec=spec, slug=spec.get("slug"))
        return Response(StudySerializer(study).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StudySpecSerializer, responses={200: StudySerializer})
    def update(self, request: Request, pk: str | None = None) -> Response:
        """Replace a draft study's settings with a full spec."""
        study = self.get_object()
        spec = self._spec(request)
        models = [edit_model_ensure(**ref) for ref in spec["models"]]
        study = study_update(study=study, spec=study_spec_from_data(spec, models=models))
        return Response(StudySerializer(study).data)

    @extend_schema(request=None, responses={202: StudySerializer})
    @action(detail=True, methods=["post"])
    def generate(self, request: Request, pk: str | None = None) -> Response:
        """Ask for every missing edit of the study; answers at once (the workers, or without a
        broker the app's background runner, generate them; `progress/` follows them)."""
        study = self.get_object()
        study_generate_background(study=study)
        study.refresh_from_db()
        return Response(StudySerializer(study).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: StudySerializer})
    @action(detail=True, methods=["post"])
    def launch(self, request: Request, pk: str | None = None) -> Response:
        """Go live (builds the units the first time); also resumes a paused study."""
        study = study_launch(study=self.get_object())
        return Response(StudySerializer(study).data)

    @extend_schema(request=None, responses={200: StudySerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        study = study_pause(study=self.get_object())
        return Response(StudySerializer(study).data)

    @extend_schema(request=None, responses={200: StudySerializer})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        study = study_close(study=self.get_object())
        return Response(StudySerializer(study).data)

    @extend_schema(
        responses=inline_serializer(
            "StudyProgress",
            {
                "status": serializers.CharField(),
                "jobs": serializers.DictField(child=serializers.IntegerField()),
                "missing_edits": serializers.DictField(child=serializers.IntegerField()),
                "units": serializers.IntegerField(),
                "units_complete": serializers.IntegerField(),
                "judgments": serializers.IntegerField(),
            },
        )
    )
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        return Response(study_progress(study=self.get_object()))

    @extend_schema(
        parameters=[
            OpenApiParameter("output", str, enum=list(EXPORTS), description="default json"),
            OpenApiParameter("kind", str, enum=list(RAW_KINDS), description="raw-*: the table"),
            OpenApiParameter("include_simulated", bool),
            OpenApiParameter(
                "platform_export_only",
                bool,
                description="keep only raters found in the uploaded platform export",
            ),
            OpenApiParameter("resamples", int, description="bootstrap resamples (100–5000)"),
        ],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/html"): str,
            (200, "application/zip"): OpenApiTypes.BINARY,
            (200, "text/csv"): str,
            (200, "application/jsonl"): str,
        },
    )
    @action(detail=True, methods=["get"], url_path="report")
    def report(self, request: Request, pk: str | None = None) -> HttpResponse:
        """The study's results: JSON (every number with its method), the HTML report, the
        report's tables as CSV in a zip, or the raw judgments as CSV or JSON Lines."""
        study = self.get_object()
        # Not "format": DRF reserves that query parameter for content negotiation.
        output = request.query_params.get("output", "json")
        try:
            resamples = int(request.query_params.get("resamples", "1000"))
        except ValueError:
            raise ValidationError({"resamples": "an integer"}) from None
        if not 100 <= resamples <= 5000:
            raise ValidationError({"resamples": "from 100 to 5000"})
        try:
            export = study_export(
                study=study,
                output=output,
                include_simulated=request.query_params.get("include_simulated") in ("1", "true"),
                kind=request.query_params.get("kind", "single"),
                platform_export_only=request.query_params.get("platform_export_only")
                in ("1", "true"),
                n_resamples=resamples,
            )
        except ExportRequestError as exc:
            field, _, message = str(exc).partition(": ")
            raise ValidationError({field: message}) from None
        response = HttpResponse(export.content, content_type=export.content_type)
        if output not in ("json", "html"):
            response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "PlatformExportUpload", {"export": serializers.FileField()}
            )
        },
        responses={
            200: inline_serializer(
                "PlatformExportResult",
                {"participants": serializers.IntegerField(), "matched": serializers.IntegerField()},
            )
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="platform-export",
        parser_classes=[MultiPartParser],
    )
    def platform_export(self, request: Request, pk: str | None = None) -> Response:
        """Upload Prolific's or MTurk's participant export (CSV): the report can then keep
        only the raters the platform knows (`report/?platform_export_only=1`)."""
        study = self.get_object()
        export = request.FILES.get("export")
        if export is None:
            raise ValidationError({"export": "send the platform's CSV export as `export`"})
        matched = platform_export_upload(study=study, export=export)
        study.refresh_from_db()
        return Response({"participants": len(study.platform_export), "matched": matched})

    @extend_schema(responses=EditSerializer(many=True))
    @action(detail=True, methods=["get"])
    def edits(self, request: Request, pk: str | None = None) -> Response:
        study = self.get_object()
        queryset = Edit.objects.filter(
            item__in=study.items.all(), model__in=study.edit_models.all()
        ).select_related("item", "model")
        # DRF paginates any queryset; the stubs allow only the view's own model's.
        page = self.paginate_queryset(queryset.order_by("pk"))  # type: ignore[arg-type]
        return self.get_paginated_response(
            EditSerializer(page, many=True, context={"request": request}).data
        )
