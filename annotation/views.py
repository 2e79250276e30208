"""Server-rendered pages (thin: one selector or service, then render)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from PIL import Image

from annotation.rendering import mask_overlay_png
from annotation.selectors import item_get_for_staff


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "annotation/home.html")


@require_GET
@cache_control(private=True, max_age=3600)
def item_overlay(request: HttpRequest, item_id: int) -> HttpResponse:
    item = item_get_for_staff(user=request.user, item_id=item_id)
    with item.image.open("rb") as image_file, item.mask.open("rb") as mask_file:
        png = mask_overlay_png(Image.open(image_file), Image.open(mask_file))
    return HttpResponse(png, content_type="image/png")
