"""Staff pages: the study wizard, the live dashboard, raters, approvals, gallery, downloads.

Thin like the rater pages: fetch with the permission check (``study_get_for_staff``: a 404
for anyone but staff), call one selector or service, render. Model names appear here, and
only here and in the admin: blinding concerns raters, not staff.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import categories as cat
from annotation.forms import StudyWizardForm, wizard_initial, wizard_save, wizard_validated_spec
from annotation.models import Assignment, BenchmarkItem, Edit, Study
from annotation.selectors.access import study_get_for_staff
from annotation.selectors.adaptive import adaptive_state_now
from annotation.selectors.approvals import approvals_csv, rater_decisions
from annotation.selectors.exports import EXPORTS, RAW_KINDS, ExportRequestError, study_export
from annotation.selectors.planning import (
    design_estimate,
    rater_detail,
    study_coverage,
    study_estimate,
    study_gallery,
)
from annotation.selectors.preview import preview_sample_tasks, preview_unit_task
from annotation.selectors.reports import study_headlines
from annotation.selectors.studies import study_dashboard as study_dashboard_data
from annotation.services.benchmarks import item_derivatives_ensure
from annotation.services.errors import ServiceError
from annotation.services.raters import participant_hash
from annotation.services.runner import study_generate_background
from annotation.services.studies import study_close, study_launch, study_pause

View = Callable[..., HttpResponseBase]
THUMBNAILS = 12


def staff_only(view: View) -> View:
    """Anonymous visitors sign in first; signed-in non-staff users get a 404, as from
    ``study_get_for_staff`` (so ids cannot be probed)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not getattr(request.user, "is_staff", False):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


@require_GET
@staff_only
def staff_home(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.select_related("benchmark").order_by("-created_at")
    return render(request, "annotation/staff/home.html", {"studies": studies})


# --- The wizard ----------------------------------------------------------------------------


def _wizard(request: HttpRequest, study: Study | None) -> HttpResponse:
    initial = wizard_initial(study) if study is not None else {"tasks": ["single"]}
    form = StudyWizardForm(request.POST or None, initial=initial, study=study)
    estimate = None
    if request.method == "POST":
        if request.POST.get("step") == "create":
            saved = wizard_save(form, owner=request.user)
            if saved is not None:
                verb = "created" if study is None else "saved"
                messages.success(request, f"Study {saved.name!r} {verb} as a draft.")
                return redirect("study-dashboard", study_id=saved.pk)
        else:
            spec = wizard_validated_spec(form)
            if spec is not None:
                estimate = _spec_estimate(
                    spec,
                    form.cleaned_data.get("hourly_pay"),
                    form.cleaned_data.get("assumed_accuracies"),
                    form.cleaned_data.get("assumed_win_rates"),
                )
    context = {"form": form, "study": study, "estimate": estimate}
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "annotation/staff/wizard.html", context, status=status)


def _spec_estimate(
    spec: dict[str, Any],
    hourly_pay: float | None,
    assumed: list[float] | None,
    win_rates: list[float] | None = None,
) -> dict[str, Any]:
    return design_estimate(
        items=len(spec["item_list"]),
        models=[ref["name"] for ref in spec["models"]],
        prompt_types=list(spec["prompt_types"]),
        task_single="single" in spec["tasks"],
        task_pairwise="pairwise" in spec["tasks"],
        raters_per_unit=spec["raters_per_unit"],
        gold_rate=spec["gold_rate"],
        max_tasks_per_rater=spec.get("max_tasks_per_rater"),
        hourly_pay=hourly_pay,
        target_half_width=spec.get("target_half_width"),
        k_min=spec.get("k_min", 1),
        assumed_accuracies=assumed,
        pairwise_half_width=(
            spec.get("pairwise_half_width") if spec.get("pairwise_target") == "half-width" else None
        ),
        assumed_win_rates=win_rates,
    )


@require_http_methods(["GET", "POST"])
@staff_only
def study_new(request: HttpRequest) -> HttpResponse:
    return _wizard(request, None)


@require_http_methods(["GET", "POST"])
@staff_only
def study_edit(request: HttpRequest, study_id: int) -> HttpResponse:
    study = study_get_for_staff(user=request.user, study_id=study_id)
    if study.status != Study.Status.DRAFT:
        messages.error(request, f"Only a draft study can be changed; this one is {study.status}.")
        return redirect("study-dashboard", study_id=study.pk)
    return _wizard(request, study)


@require_GET
@staff_only
def items_preview(request: HttpRequest) -> JsonResponse:
    """The wizard's live count: how many items the category filter picks, and a few of them."""
    name, _, version = request.GET.get("benchmark", "").partition("@")
    items = BenchmarkItem.objects.filter(benchmark__name=name, benchmark__version=version)
    for field_name in cat.CATEGORY_FIELDS:
        values = request.GET.getlist(f"items_{field_name}")
        if values:
            items = items.filter(**{f"{field_name}__in": values})
    shown = items.order_by("external_id")[:THUMBNAILS]
    return JsonResponse(
        {
            "count": items.count(),
            "items": [
                {"id": i.external_id, "overlay": reverse("item-overlay", args=[i.pk])}
                for i in shown
            ],
        }
    )


# --- The dashboard and its actions ---------------------------------------------------------


def _downloads(study: Study, *, simulated: bool) -> list[dict[str, str]]:
    """A link per export (a raw one per task kind the study has)."""
    links = []
    for output, what in EXPORTS.items():
        kinds = [k for k in RAW_KINDS if getattr(study, f"task_{k}")]
        for kind in kinds if output.startswith("raw-") else [""]:
            query = {"kind": kind} if kind else {}
            if simulated:
                query["simulated"] = "1"
            url = reverse("study-download", args=[study.pk, output])
            links.append(
                {
                    "output": output + (f" ({kind})" if kind else ""),
                    "what": what,
                    "url": url + ("?" + urlencode(query) if query else ""),
                }
            )
    return links


@require_GET
@staff_only
def study_dashboard(request: HttpRequest, study_id: int) -> HttpResponse:
    """The study's live page; ``?fragment=live`` is the part that refreshes itself."""
    study = study_get_for_staff(user=request.user, study_id=study_id)
    context: dict[str, Any] = {
        "study": study,
        "data": study_dashboard_data(study=study),
        "coverage": study_coverage(study=study),
    }
    if request.GET.get("fragment") == "live":
        return render(request, "annotation/staff/dashboard_live.html", context)
    crowd_link = request.build_absolute_uri(reverse("crowd-entry", args=[study.slug]))
    simulated = request.GET.get("simulated") == "1"
    context |= {
        "estimate": study_estimate(study=study),
        "headlines": study_headlines(study=study, include_simulated=simulated),
        # Precision targets: each cell's interval and status now ({} for a fixed-K study).
        "adaptive": adaptive_state_now(study=study),
        "downloads": _downloads(study, simulated=simulated),
        "crowd_link": crowd_link,
        "prolific_link": crowd_link
        + "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}",
    }
    return render(request, "annotation/study_dashboard.html", context)


STUDY_ACTIONS = {"launch": study_launch, "pause": study_pause, "close": study_close}
GENERATION_STARTED = {
    "workers": "{jobs} job(s) sent to the workers; the progress shows below.",
    "background": "Generating {jobs} job(s) in the background; the progress shows below.",
    "running": "Generation is already running for this study; nothing new was started.",
}


def _generate(request: HttpRequest, study: Study) -> HttpResponse:
    """Start the study's generation and return at once (never generates in this request)."""
    try:
        started = study_generate_background(study=study)
    except ServiceError as exc:
        messages.error(request, "; ".join(exc.problems))
    else:
        messages.success(request, GENERATION_STARTED[started.mode].format(jobs=started.jobs))
    return redirect("study-dashboard", study_id=study.pk)


@require_POST
@staff_only
def study_action(request: HttpRequest, study_id: str, action: str) -> HttpResponse:
    """Launch (or resume), pause or close; the page asked for confirmation first."""
    study = study_get_for_staff(user=request.user, study_id=int(study_id))
    if action == "generate":
        return _generate(request, study)
    if action not in STUDY_ACTIONS:
        raise Http404
    try:
        study = STUDY_ACTIONS[action](study=study)
    except ServiceError as exc:
        messages.error(request, "; ".join(exc.problems))
    else:
        messages.success(request, f"The study is {study.status}.")
    return redirect("study-dashboard", study_id=study.pk)


# --- Raters, approvals, gallery -------------------------------------------------------------


@require_GET
@staff_only
def study_rater(request: HttpRequest, study_id: int, rater_id: int) -> HttpResponse:
    study = study_get_for_staff(user=request.user, study_id=study_id)
    try:
        detail = rater_detail(study=study, rater_id=rater_id)
    except Assignment.DoesNotExist:
        raise Http404 from None
    return render(request, "annotation/staff/rater.html", {"study": study, **detail})


@require_http_methods(["GET", "POST"])
@staff_only
def study_approvals(request: HttpRequest, study_id: int) -> HttpResponse:
    """Decisions per rater; upload the platform's export to get its bulk approve/reject CSV."""
    study = study_get_for_staff(user=request.user, study_id=study_id)
    error = ""
    if request.method == "POST":
        platform = request.POST.get("platform", "")
        upload = request.FILES.get("export")
        if platform not in ("prolific", "mturk"):
            error = "platform: prolific or mturk"
        elif upload is None:
            error = "export: choose the platform's export file (CSV)"
        else:
            try:
                text = upload.read().decode("utf-8-sig")
                body = approvals_csv(
                    study=study,
                    platform=platform,
                    export_text=text,
                    hash_id=lambda pid: participant_hash(platform=platform, participant_id=pid),
                )
            except UnicodeDecodeError:
                error = "export: the file is not UTF-8 text"
            except ValueError as exc:
                error = str(exc)
            else:
                response = HttpResponse(body, content_type="text/csv; charset=utf-8")
                name = f"{study.slug}-{platform}-approve-reject.csv"
                response["Content-Disposition"] = f'attachment; filename="{name}"'
                return response
    context = {"study": study, "decisions": rater_decisions(study=study), "error": error}
    return render(request, "annotation/staff/approvals.html", context, status=400 if error else 200)


@require_GET
@staff_only
def study_gallery_index(request: HttpRequest, study_id: int) -> HttpResponse:
    study = study_get_for_staff(user=request.user, study_id=study_id)
    pages = Paginator(study.items.order_by("external_id"), 48)
    page = pages.get_page(request.GET.get("page"))
    return render(request, "annotation/staff/gallery_index.html", {"study": study, "page": page})


@require_GET
@staff_only
def study_gallery_item(request: HttpRequest, study_id: int, item_id: int) -> HttpResponse:
    study = study_get_for_staff(user=request.user, study_id=study_id)
    try:
        gallery = study_gallery(study=study, item_id=item_id)
    except Edit.DoesNotExist:
        raise Http404 from None
    return render(request, "annotation/staff/gallery_item.html", {"study": study, **gallery})


@require_GET
@staff_only
def edit_image(request: HttpRequest, edit_id: int) -> FileResponse:
    """An edit's image for staff pages (served by the app, so it works without MEDIA_URL)."""
    edit = Edit.objects.filter(pk=edit_id).first()
    if edit is None:
        raise Http404
    return FileResponse(edit.image.open("rb"), content_type="image/png")


@require_GET
@staff_only
def study_preview(request: HttpRequest, study_id: int) -> HttpResponse:
    """The study's tasks as raters see them (``?unit=<id>``, or a sample of each task kind),
    in a test mode: nothing is leased or recorded, and the page says so."""
    study = study_get_for_staff(user=request.user, study_id=study_id)

    def edit_url(edit: Edit) -> str:
        return reverse("edit-image", args=[edit.pk])

    def item_url(item: BenchmarkItem, which: str) -> str:
        return reverse("preview-item-image", args=[item.pk, which])

    unit = request.GET.get("unit", "")
    if unit:
        if not unit.isdigit():
            raise Http404
        one = preview_unit_task(
            study=study, unit_id=int(unit), edit_url=edit_url, item_url=item_url
        )
        if one is None:
            raise Http404
        tasks = [one]
    else:
        tasks = preview_sample_tasks(study=study, edit_url=edit_url, item_url=item_url)
    context = {
        "study": study,
        "preview": True,
        "task": tasks[0] if tasks else None,
        "preview_tasks": tasks,
        "urls": {"dashboard": reverse("study-dashboard", args=[study.pk])},
        "progress": {"done": 0, "total": len(tasks)},
    }
    return render(request, "annotation/rater/task.html", context)


@require_GET
@staff_only
def preview_item_image(request: HttpRequest, item_id: int, which: str) -> HttpResponse:
    """An item's input or outline as the rater page shows them (the stored derivatives)."""
    item = BenchmarkItem.objects.filter(pk=item_id).first()
    if item is None or which not in ("input", "mask"):
        raise Http404
    item = item_derivatives_ensure(item=item)
    with (item.outline if which == "mask" else item.display).open("rb") as stored:
        return HttpResponse(stored.read(), content_type="image/png")


# --- Report and downloads ------------------------------------------------------------------


@require_GET
@staff_only
def study_report_page(request: HttpRequest, study_id: int) -> HttpResponse:
    """The full HTML report, simulated raters included with ?simulated=1."""
    study = study_get_for_staff(user=request.user, study_id=study_id)
    simulated = request.GET.get("simulated") == "1"
    export = study_export(study=study, output="html", include_simulated=simulated)
    # The report is one self-contained file; on the site it also links every export.
    bar = render_to_string(
        "annotation/staff/report_bar.html",
        {"study": study, "downloads": _downloads(study, simulated=simulated)},
        request=request,
    )
    html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + bar, export.content.decode(), count=1)
    return HttpResponse(html, content_type=export.content_type)


@require_GET
@staff_only
def study_download(request: HttpRequest, study_id: int, output: str) -> HttpResponse:
    """Any export of :data:`EXPORTS` as a file download."""
    study = study_get_for_staff(user=request.user, study_id=study_id)
    try:
        export = study_export(
            study=study,
            output=output,
            include_simulated=request.GET.get("simulated") == "1",
            kind=request.GET.get("kind", "single"),
        )
    except ExportRequestError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
