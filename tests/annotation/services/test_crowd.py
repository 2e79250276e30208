"""Crowd identities: id formats per platform, new identities per client address, and the
platform's export as a filter of the report (issue #13 item 3)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Rater, Study
from annotation.selectors.reports import study_judgment_frames
from annotation.services.assignments import assignment_next
from annotation.services.crowd import crowd_rater_enter, platform_export_upload
from annotation.services.errors import ServiceError
from tests.annotation.rating import prolific_id, submit

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("platform", "participant_id", "ok"),
    [
        ("prolific", "5f1e2d3c4b5a6978a1b2c3d4", True),
        ("prolific", "5F1E2D3C4B5A6978A1B2C3D4", True),
        ("prolific", "5f1e2d3c4b5a6978a1b2c3d", False),  # 23
        ("prolific", "5f1e2d3c4b5a6978a1b2c3d4e", False),  # 25
        ("prolific", "zz1e2d3c4b5a6978a1b2c3d4", False),
        ("prolific", "anything-at-all", False),
        ("mturk", "A1B2C3D4E5F6G7", True),
        ("mturk", "a1b2c3d4e5f6g7", False),
        ("mturk", "W1", False),
    ],
)
def test_an_id_must_have_its_platforms_format(platform: str, participant_id: str, ok: bool) -> None:
    if ok:
        rater = crowd_rater_enter(
            platform=platform, participant_id=participant_id, client_address="10.0.0.1"
        )
        assert rater.platform == platform
    else:
        with pytest.raises(ServiceError, match="not a valid one"):
            crowd_rater_enter(
                platform=platform, participant_id=participant_id, client_address="10.0.0.1"
            )
        assert not Rater.objects.exists()


def test_a_link_with_a_bad_id_is_a_400_page_that_says_what_to_do(
    make_study: Callable[..., Study],
) -> None:
    study = make_study()
    response = Client().get(f"/s/{study.slug}/", {"PROLIFIC_PID": "invented"})
    assert response.status_code == 400
    assert b"24 characters" in response.content and not Rater.objects.exists()


def test_new_identities_are_limited_per_client_address(
    make_study: Callable[..., Study], settings: object
) -> None:
    settings.NEW_RATERS_PER_ADDRESS_PER_HOUR = 3  # type: ignore[attr-defined]
    study = make_study()
    for n in range(3):
        response = Client().get(f"/s/{study.slug}/", {"PROLIFIC_PID": prolific_id(f"n{n}")})
        assert response.status_code == 302
    refused = Client().get(f"/s/{study.slug}/", {"PROLIFIC_PID": prolific_id("n3")})
    assert refused.status_code == 429 and b"try again later" in refused.content
    assert Rater.objects.count() == 3
    # A returning participant is not a new identity; another address is not limited.
    back = Client().get(f"/s/{study.slug}/", {"PROLIFIC_PID": prolific_id("n0")})
    assert back.status_code == 302
    elsewhere = Client(REMOTE_ADDR="10.9.9.9")
    assert (
        elsewhere.get(f"/s/{study.slug}/", {"PROLIFIC_PID": prolific_id("n3")}).status_code == 302
    )


def test_the_forwarded_address_counts_only_when_trusted(
    make_study: Callable[..., Study], settings: object
) -> None:
    settings.NEW_RATERS_PER_ADDRESS_PER_HOUR = 1  # type: ignore[attr-defined]
    study = make_study()

    def enter(label: str, forwarded: str) -> int:
        client = Client(HTTP_X_FORWARDED_FOR=forwarded)
        return client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": prolific_id(label)}).status_code

    # Untrusted: the header is the client's own claim; every request is 127.0.0.1.
    assert enter("a", "1.1.1.1") == 302 and enter("b", "2.2.2.2") == 429
    settings.TRUST_X_FORWARDED_FOR = True  # type: ignore[attr-defined]
    # Trusted: the proxy's last entry is the client; a spoofed first entry changes nothing.
    assert enter("c", "6.6.6.6, 3.3.3.3") == 302
    assert enter("d", "7.7.7.7, 3.3.3.3") == 429


def _study_with_two_raters(make_study: Callable[..., Study]) -> tuple[Study, list[Rater]]:
    study = make_study(platform="prolific", completion_code="CODE")
    raters = []
    for label in ("listed", "invented"):
        rater = crowd_rater_enter(
            platform="prolific", participant_id=prolific_id(label), client_address=label
        )
        for _ in range(3):
            a = assignment_next(rater=rater, study=study)
            assert a is not None
            submit(rater, a)
        raters.append(rater)
    return study, raters


def test_the_report_can_keep_only_the_raters_of_the_platforms_export(
    make_study: Callable[..., Study],
) -> None:
    study, (listed, _invented) = _study_with_two_raters(make_study)
    export = f"Submission id,Participant id,Status\ns1,{prolific_id('listed')},APPROVED\n"
    export += "s2,aaaaaaaaaaaaaaaaaaaaaaaa,RETURNED\n"
    assert platform_export_upload(study=study, export=io.BytesIO(export.encode())) == 1
    study.refresh_from_db()
    assert len(study.platform_export) == 2 and prolific_id("listed") not in str(
        study.platform_export
    )
    everyone, _ = study_judgment_frames(study=study)
    kept, _ = study_judgment_frames(study=study, platform_export_only=True)
    assert len(everyone) > len(kept) > 0
    assert set(kept["rater"]) == {f"rater-{listed.pk}"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Submission id,Status\ns1,APPROVED\n", "no participant id column"),
        (b"Participant id\n\n", "column is empty"),
        (b"\xff\xfeP\x00", "not UTF-8"),
    ],
)
def test_a_bad_export_is_refused_with_a_message_and_nothing_kept(
    make_study: Callable[..., Study], data: bytes, message: str
) -> None:
    study = make_study(platform="prolific", completion_code="CODE")
    with pytest.raises(ServiceError, match=message):
        platform_export_upload(study=study, export=io.BytesIO(data))
    study.refresh_from_db()
    assert study.platform_export == [] and study.platform_export_at is None


def test_the_export_goes_in_through_the_api_and_filters_the_report(
    make_study: Callable[..., Study], admin_user: User
) -> None:
    study, _ = _study_with_two_raters(make_study)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    upload = io.BytesIO(f"Participant id\n{prolific_id('listed')}\n".encode())
    upload.name = "prolific_export.csv"
    response = api.post(
        f"/api/v1/studies/{study.pk}/platform-export/", {"export": upload}, format="multipart"
    )
    assert response.status_code == 200 and response.json() == {"participants": 1, "matched": 1}
    full = api.get(f"/api/v1/studies/{study.pk}/report/").json()
    kept = api.get(f"/api/v1/studies/{study.pk}/report/", {"platform_export_only": "1"}).json()
    assert full != kept
