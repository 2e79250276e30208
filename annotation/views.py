"""Server-rendered pages (thin: one selector or service, then render)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from PIL import Image

from annotation.models import MAX_ID, Assignment, Edit, Rater, Study
from annotation.questions import VALUE_REFERENCES
from annotation.rendering import mask_outline_png, plain_png
from annotation.selectors.access import (
    assignment_get_for_rater,
    item_get_for_staff,
    study_get_for_raters,
)
from annotation.selectors.practice import (
    PRACTICE_IMAGES,
    example_blocks,
    practice_item,
    practice_tasks,
)
from annotation.selectors.raters import (
    rater_completion,
    rater_get,
    rater_has_started,
    rater_progress,
    rater_ref,
    task_payload,
)
from annotation.selectors.studies import live_studies
from annotation.services.assignments import assignment_next
from annotation.services.benchmarks import item_derivatives_ensure
from annotation.services.crowd import crowd_rater_enter
from annotation.services.errors import ServiceError
from annotation.services.judgments import assignment_report_broken, judgment_submit
from annotation.services.raters import rater_for_user
from inference.baselines import blur_fill


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "annotation/home.html")


@require_GET
@cache_control(private=True, max_age=3600)
def item_overlay(request: HttpRequest, item_id: int) -> HttpResponse:
    item = item_derivatives_ensure(item=item_get_for_staff(user=request.user, item_id=item_id))
    # The stored thumbnail (region tinted, at most 256 px), made once per item.
    with item.thumbnail.open("rb") as thumbnail:
        return HttpResponse(thumbnail.read(), content_type="image/png")


# --- Rater pages ------------------------------------------------------------------------------

MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
# Where the completion form may post: MTurk's own hosts only, never a URL a link chose.
MTURK_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")


def _session_key(study: Study) -> str:
    return f"rater:{study.pk}"


def _rater(request: HttpRequest, study: Study) -> Rater | None:
    """The rater this browser session acts as in ``study``."""
    rater = rater_get(rater_id=request.session.get(_session_key(study)))
    if rater is None and request.user.is_authenticated:
        rater = rater_for_user(user=request.user)
        request.session[_session_key(study)] = rater.pk
    return rater


def _image_url(study: Study, assignment: Assignment) -> Callable[[str], str]:
    return lambda which: reverse("rater-image", args=[study.slug, assignment.pk, which])


def _payload(study: Study, assignment: Assignment | None) -> dict[str, Any] | None:
    if assignment is None:
        return None
    return task_payload(assignment=assignment, image_url=_image_url(study, assignment))


def _client_address(request: HttpRequest) -> str:
    """The client's address: the one our proxy appended to X-Forwarded-For when we are told
    to trust it (the last entry: the ones before it are the client's own claims)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.TRUST_X_FORWARDED_FOR and forwarded.strip():
        return str(forwarded).split(",")[-1].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


@require_GET
def crowd_entry(request: HttpRequest, slug: str) -> HttpResponse:
    """/s/<slug>/: where Prolific, MTurk and internal raters arrive."""
    study = study_get_for_raters(slug=slug)
    params = request.GET
    if params.get("assignmentId") == MTURK_PREVIEW:
        # MTurk preview: show what the task is like, assign nothing.
        return render(request, "annotation/rater/preview.html", {"study": study})
    try:
        if params.get("PROLIFIC_PID"):
            rater = crowd_rater_enter(
                platform="prolific",
                participant_id=params["PROLIFIC_PID"],
                client_address=_client_address(request),
            )
        elif params.get("workerId"):
            rater = crowd_rater_enter(
                platform="mturk",
                participant_id=params["workerId"],
                client_address=_client_address(request),
            )
            request.session[f"mturk:{study.pk}"] = {
                "assignmentId": params.get("assignmentId", ""),
                "turkSubmitTo": params.get("turkSubmitTo", ""),
            }
        elif request.user.is_authenticated:
            rater = rater_for_user(user=request.user)
        else:
            return redirect_to_login(request.get_full_path())
    except ServiceError as exc:
        return render(
            request,
            "annotation/rater/message.html",
            {"study": study, "message": exc.problems[0]},
            status=exc.http_status,
        )
    request.session.cycle_key()  # a new identity gets a new session id
    request.session[_session_key(study)] = rater.pk
    # Participant ids stay out of every later URL (and so out of logs and referrers).
    return redirect("rater-start", slug=study.slug)


def _not_live(request: HttpRequest, study: Study) -> HttpResponse | None:
    """The page a rater gets instead of tasks while the study is not live, else None."""
    if study.status == Study.Status.LIVE:
        return None
    message = (
        "This study is paused; please come back later."
        if study.status == "paused"
        else "This study is closed. Thank you!"
    )
    return render(request, "annotation/rater/message.html", {"study": study, "message": message})


def _practice_url(study: Study) -> Callable[[int, str], str]:
    return lambda index, which: reverse("rater-practice-image", args=[study.slug, index, which])


def _briefing(study: Study) -> dict[str, Any]:
    """What the instructions show: the worked examples and the size and shape definitions."""
    return {
        "examples": example_blocks(study=study, image_url=_practice_url(study)),
        "definitions": list(VALUE_REFERENCES.values()),
    }


def _briefed_key(study: Study) -> str:
    return f"briefed:{study.pk}"


@require_http_methods(["GET", "POST"])
def rater_start(request: HttpRequest, slug: str) -> HttpResponse:
    """The start page: welcome, consent, instructions with examples, then the practice.
    POST (from the end of the practice) marks the session briefed and starts the tasks;
    a rater who has taken a task of the study before skips the page."""
    study = study_get_for_raters(slug=slug)
    rater = _rater(request, study)
    if rater is None:
        return redirect("crowd-entry", slug=slug)
    if request.method == "POST":
        request.session[_briefed_key(study)] = True
        return redirect("rater-task", slug=slug)
    if (page := _not_live(request, study)) is not None:
        return page
    if request.session.get(_briefed_key(study)) or rater_has_started(rater=rater, study=study):
        return redirect("rater-task", slug=slug)
    return render(request, "annotation/rater/start.html", {"study": study, **_briefing(study)})


@require_GET
def rater_practice(request: HttpRequest, slug: str) -> HttpResponse:
    """The practice tasks: answered in the page with feedback; nothing is leased or stored."""
    study = study_get_for_raters(slug=slug)
    if _rater(request, study) is None:
        return redirect("crowd-entry", slug=slug)
    if (page := _not_live(request, study)) is not None:
        return page
    tasks = practice_tasks(study=study, image_url=_practice_url(study))
    context = {
        "study": study,
        "practice": True,
        "task": tasks[0] if tasks else None,
        "practice_tasks": tasks,
        "urls": {
            "start": reverse("rater-start", args=[slug]),
            "task": reverse("rater-task", args=[slug]),
        },
        **_briefing(study),
    }
    return render(request, "annotation/rater/task.html", context)


@require_GET
@cache_control(private=True, max_age=3600)
def rater_practice_image(request: HttpRequest, slug: str, index: int, which: str) -> HttpResponse:
    """An image of a practice item: its input, mask outline, reference or blurred fill."""
    study = study_get_for_raters(slug=slug)
    item = practice_item(study=study, index=index) if _rater(request, study) else None
    if item is None or which not in PRACTICE_IMAGES:
        raise Http404
    field = item.reference if which == "reference" else item.image
    with field.open("rb") as image_file, item.mask.open("rb") as mask_file:
        image, mask = Image.open(image_file).convert("RGB"), Image.open(mask_file)
        if which == "mask":
            return HttpResponse(mask_outline_png(mask), content_type="image/png")
        if which == "blurred":
            image = blur_fill(image, np.asarray(mask.convert("L")) > 0)
        return HttpResponse(plain_png(image), content_type="image/png")


@require_GET
def rater_task(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_raters(slug=slug)
    rater = _rater(request, study)
    if rater is None:
        return redirect("crowd-entry", slug=slug)
    if (page := _not_live(request, study)) is not None:
        return page
    assignment = assignment_next(rater=rater, study=study)
    if assignment is None:
        return redirect("rater-done", slug=slug)
    context = {
        "study": study,
        "task": _payload(study, assignment),
        "progress": rater_progress(rater=rater, study=study),
        "urls": {
            "next": reverse("rater-next", args=[slug]),
            "submit": reverse("rater-submit", args=[slug]),
            "broken": reverse("rater-broken", args=[slug]),
            "done": reverse("rater-done", args=[slug]),
        },
        **_briefing(study),
    }
    return render(request, "annotation/rater/task.html", context)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ServiceError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ServiceError("the request body must be a JSON object")
    return body


def _rater_or_403(request: HttpRequest, study: Study) -> Rater:
    rater_id = request.session.get(_session_key(study))
    if rater_id is not None:
        # Not read up front: the calls' statements check the rater (one read fewer a task).
        return rater_ref(rater_id=rater_id)
    rater = _rater(request, study)
    if rater is None:
        raise PermissionDenied
    return rater


RaterApi = Callable[[Study, Rater, dict[str, Any]], dict[str, Any]]


def rater_api(handler: RaterApi) -> Callable[[HttpRequest, str], JsonResponse]:
    """A JSON endpoint of the task page: POST, the session's rater (403 without one),
    a JSON object body; a refused request is 400 or 409 with the message to show."""

    @require_POST
    @wraps(handler)
    def view(request: HttpRequest, slug: str) -> JsonResponse:
        study = study_get_for_raters(slug=slug)
        rater = _rater_or_403(request, study)
        try:
            return JsonResponse(handler(study, rater, _json_body(request)))
        except ServiceError as exc:
            return JsonResponse(
                {"error": exc.problems[0], "errors": exc.problems}, status=exc.http_status
            )
        except Rater.DoesNotExist:
            # The session's rater was deleted since: as without a session.
            raise PermissionDenied from None

    return view


def _exclude(body: Any) -> list[int]:
    """The assignment ids to leave out; anything that cannot be an id is dropped."""
    values = body.get("exclude", []) if isinstance(body, dict) else []
    if not isinstance(values, list):
        return []
    return [int(i) for i in values if str(i).isdigit() and 0 < int(i) <= MAX_ID]


@rater_api
def rater_next(study: Study, rater: Rater, body: dict[str, Any]) -> dict[str, Any]:
    """The next task (leased briefly now, to preload its images), excluding the one on screen,
    whose lease is renewed (``assignment_next(preload=True)``)."""
    assignment = assignment_next(rater=rater, study=study, exclude=_exclude(body), preload=True)
    return {"task": _payload(study, assignment)}


@rater_api
def rater_submit(study: Study, rater: Rater, body: dict[str, Any]) -> dict[str, Any]:
    """Record the answers to one task; with ``next``, also lease the task after the preloaded
    one, so the page keeps one task in hand with a single request per task."""
    try:
        assignment_id = int(body["assignment"])
        time_ms = int(body.get("time_on_task_ms", 0))
        submission = uuid.UUID(str(body["client_submission_id"]))
    except (KeyError, TypeError, ValueError):
        raise ServiceError(
            "send assignment, answers, time_on_task_ms and client_submission_id"
        ) from None
    result = judgment_submit(
        rater=rater,
        assignment_id=assignment_id,
        answers=body.get("answers"),
        time_on_task_ms=time_ms,
        client_submission_id=submission,
    )
    answer: dict[str, Any] = {
        "recorded": result.created,
        "progress": rater_progress(rater=rater, study=study),
    }
    if isinstance(body.get("next"), dict):
        # The task page asks for the task after the one it has preloaded in the same round
        # trip (``{"next": {"exclude": [preloaded]}}``): one request per task, not two.
        # The judgment is recorded whatever happens here; no task is ``null``, as from next.
        try:
            following = assignment_next(
                rater=rater, study=study, exclude=_exclude(body["next"]), preload=True
            )
        except ServiceError:
            following = None
        answer["next"] = _payload(study, following)
    return answer


@rater_api
def rater_broken(study: Study, rater: Rater, body: dict[str, Any]) -> dict[str, Any]:
    if not str(body.get("assignment", "")).isdigit():
        raise ServiceError("send the assignment id")
    assignment_report_broken(
        rater=rater, assignment_id=int(body["assignment"]), note=str(body.get("note", ""))
    )
    return {"reported": True}


@require_GET
@cache_control(private=True, max_age=3600)
def rater_image(
    request: HttpRequest, slug: str, assignment_id: int, which: str
) -> HttpResponse | FileResponse:
    """An image of the rater's own assignment, addressed by side, never by model or file."""
    study = study_get_for_raters(slug=slug)
    rater = _rater(request, study)
    if rater is None:
        raise Http404
    assignment = assignment_get_for_rater(rater=rater, assignment_id=assignment_id, with_edits=True)
    unit = assignment.unit
    if which in ("input", "mask"):
        # The input's pixels and the outline the page lays over it and the edits: stored
        # derivatives (at most 512 px), made once per item, never per request.
        item = item_derivatives_ensure(item=unit.edit_a.item)
        with (item.outline if which == "mask" else item.display).open("rb") as stored:
            return HttpResponse(stored.read(), content_type="image/png")
    edit: Edit | None
    if unit.kind == "single" and which == "single":
        edit = unit.edit_a
    elif unit.kind == "pairwise" and which in ("left", "right"):
        edit = unit.edit_a if (which == "left") == assignment.a_on_left else unit.edit_b
    else:
        raise Http404
    assert edit is not None
    # The side's name, never the stored file's, goes into Content-Disposition.
    return FileResponse(edit.image.open("rb"), content_type="image/png", filename=f"{which}.png")


@require_GET
def rater_done(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_get_for_raters(slug=slug)
    rater = _rater(request, study)
    if rater is None:
        return redirect("crowd-entry", slug=slug)
    mturk = request.session.get(f"mturk:{study.pk}") or {}
    submit_to = mturk.get("turkSubmitTo", "")
    context = {
        "study": study,
        "progress": rater_progress(rater=rater, study=study),
        # The code and the way back only for a rater who did what the study asks.
        "completion": rater_completion(rater=rater, study=study),
        "platform": rater.platform,
        "mturk_action": (submit_to.rstrip("/") + "/mturk/externalSubmit")
        if submit_to.rstrip("/") in MTURK_HOSTS
        else "",
        "mturk_assignment": mturk.get("assignmentId", ""),
    }
    return render(request, "annotation/rater/done.html", context)


@login_required
@require_GET
def rater_home(request: HttpRequest) -> HttpResponse:
    """Internal raters: the studies they can work on."""
    return render(request, "annotation/rater/home.html", {"studies": live_studies()})
