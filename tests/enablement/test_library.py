"""Tier visibility of courses and assets, uploads (size and type), scoped downloads, co-branding."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from prm.enablement.models import Course, Resource
from prm.enablement.services import course_update, resource_create, resource_update
from prm.enablement.validators import MAX_UPLOAD_BYTES
from tests import factories

pytestmark = pytest.mark.django_db

# 10 MB + 1 byte, against the 10 MB limit.
TOO_BIG = "The file is 10,485,761 bytes; uploads are limited to 10 MB (10,485,760 bytes)."


def _login(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _resource(world, title, *, min_tier=None, name="guide.pdf", content=b"%PDF-1.4 demo", **fields):
    return resource_create(
        actor=world.manager,
        title=title,
        kind=fields.pop("kind", "guide"),
        min_tier=min_tier,
        file=ContentFile(content, name=name),
        **fields,
    )


# --- tier visibility ---------------------------------------------------------------------------


def test_courses_are_visible_by_tier(world, client, tiers, gold_partner, make_course):
    _gold, admin_g = gold_partner
    everyone = make_course("everyone")
    silver = make_course("silver-plus", min_tier=tiers.silver)
    gold = make_course("gold-plus", min_tier=tiers.gold)
    draft = make_course("draft", is_published=False)
    expectations = {
        world.manager: {everyone, silver, gold, draft},  # drafts too
        world.admin_a: {everyone},  # registered (rank 1)
        world.rep_a: {everyone},
        admin_g: {everyone, silver, gold},  # gold (rank 3)
        world.customer_user_a1: set(),
    }
    for user, visible in expectations.items():
        assert set(Course.objects.visible_to(user)) == visible, user.email
        api = _login(client, user)
        assert {row["code"] for row in api.get("/api/v1/courses/").json()["results"]} == {c.code for c in visible}
        for course in (everyone, silver, gold, draft):
            expected = 200 if course in visible else 404
            assert api.get(f"/api/v1/courses/{course.pk}/").status_code == expected, (user.email, course)
            assert api.get(reverse("course_detail", args=[course.pk])).status_code == expected, (user.email, course)
    # A partner promoted to silver sees the silver course at once.
    world.partner_a.tier = tiers.silver
    world.partner_a.save()
    assert set(Course.objects.visible_to(world.admin_a)) == {everyone, silver}
    # Unpublishing hides it from partners.
    course_update(actor=world.manager, course=everyone, is_published=False)
    assert set(Course.objects.visible_to(world.admin_a)) == {silver}


def test_catalogue_lists_what_the_tier_unlocks_with_progress(world, client, tiers, make_course):
    make_course("everyone")
    make_course("gold-plus", min_tier=tiers.gold)
    page = _login(client, world.admin_a).get(reverse("course_catalogue")).content.decode()
    assert "Everyone" in page and "Gold Plus" not in page and "Not started" in page
    manager_page = _login(client, world.manager).get(reverse("course_catalogue")).content.decode()
    assert "Everyone" in manager_page and "Gold Plus" in manager_page
    assert _login(client, world.customer_user_a1).get(reverse("course_catalogue")).status_code == 403


def test_assets_are_visible_by_tier(world, client, tiers, gold_partner):
    _gold, admin_g = gold_partner
    guide = _resource(world, "Guide for all")
    kit = _resource(world, "Gold campaign kit", min_tier=tiers.gold, kind="campaign_kit", name="kit.zip")
    video = resource_create(
        actor=world.manager,
        title="Silver walkthrough",
        kind="video",
        url="https://videos.example.com/v",
        min_tier=tiers.silver,
    )
    hidden = _resource(world, "Unpublished", is_published=False)
    expectations = {
        world.manager: {guide, kit, video, hidden},
        world.admin_a: {guide},
        world.rep_a: {guide},
        admin_g: {guide, kit, video},
        world.customer_user_a1: set(),
    }
    for user, visible in expectations.items():
        api = _login(client, user)
        rows = api.get("/api/v1/assets/", {"page_size": 50}).json()["results"]
        assert {row["id"] for row in rows} == {r.pk for r in visible}, user.email
        page = api.get(reverse("resource_list")).content.decode()
        for resource in (guide, kit, video, hidden):
            assert (resource.title in page) is (resource in visible), (user.email, resource)
            download = api.get(reverse("resource_download", args=[resource.pk]))
            assert download.status_code == ((200 if resource.file else 302) if resource in visible else 404)
            detail = api.get(f"/api/v1/assets/{resource.pk}/")
            assert detail.status_code == (200 if resource in visible else 404)
    body = _login(client, admin_g).get(f"/api/v1/assets/{kit.pk}/").json()
    assert body["download_url"] == f"http://testserver/enablement/library/{kit.pk}/download/"
    assert body["file_name"].startswith("kit") and body["file_name"].endswith(".zip")
    assert body["min_tier"] == "gold" and body["kind"] == "campaign_kit"
    assert "file" not in body  # the stored path is never exposed: downloads go through the scoped view


def test_download_sends_the_file_and_co_brands_text(world, client, tiers):
    pdf = _resource(world, "Datasheet", name="sheet.pdf", content=b"%PDF-1.4 bytes")
    email = _resource(
        world, "Announcement", name="announce.txt", kind="co_brandable_asset", co_brandable=True,
        content=b"{{partner_name}} now offers metered plans. See https://{{partner_website}}\n",
    )  # fmt: skip
    api = _login(client, world.admin_a)
    response = api.get(reverse("resource_download", args=[pdf.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == b"%PDF-1.4 bytes"
    response = api.get(reverse("resource_download", args=[email.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content == b"Alpha Partners now offers metered plans. See https://alpha.example.com\n"
    # The manager downloads the template as it is.
    response = _login(client, world.manager).get(reverse("resource_download", args=[email.pk]))
    assert b"".join(response.streaming_content).startswith(b"{{partner_name}}")


# --- uploads -----------------------------------------------------------------------------------


def test_upload_too_big_or_of_another_type_is_refused_naming_the_file(world, client):
    too_big = SimpleUploadedFile("big.pdf", b"x" * (MAX_UPLOAD_BYTES + 1), content_type="application/pdf")
    with pytest.raises(ValidationError) as refused:
        resource_create(actor=world.manager, title="Big", kind="guide", file=too_big)
    assert refused.value.message_dict == {"file": [TOO_BIG]}
    # Exactly at the limit is fine.
    at_limit = SimpleUploadedFile("limit.pdf", b"x" * MAX_UPLOAD_BYTES, content_type="application/pdf")
    assert resource_create(actor=world.manager, title="At the limit", kind="guide", file=at_limit).file
    for name in ("page.html", "logo.svg", "run.js", "tool.exe", "noextension", "archive.pdf.html"):
        with pytest.raises(ValidationError) as refused:
            resource_create(
                actor=world.manager, title=name, kind="guide", file=SimpleUploadedFile(name, b"<script>x</script>")
            )
        assert set(refused.value.message_dict) == {"file"}, name
        assert refused.value.message_dict["file"][0].startswith("Files of type "), name
    with pytest.raises(ValidationError) as refused:
        resource_create(actor=world.manager, title="Nothing", kind="guide")
    assert refused.value.message_dict == {"file": ["Upload a file or give a link."]}
    with pytest.raises(ValidationError) as refused:
        resource_create(actor=world.manager, title="JS link", kind="video", url="javascript:alert(1)")
    assert set(refused.value.message_dict) == {"url"}
    assert Resource.objects.count() == 1

    # The portal form names the field too.
    api = _login(client, world.manager)
    big = SimpleUploadedFile("big.pdf", b"x" * (MAX_UPLOAD_BYTES + 1), content_type="application/pdf")
    response = api.post(reverse("resource_create"), {"title": "Big", "kind": "guide", "file": big})
    assert response.status_code == 200
    assert response.context["form"].errors == {"file": [TOO_BIG]}
    svg = SimpleUploadedFile("logo.svg", b"<svg onload=alert(1)/>", content_type="image/svg+xml")
    response = api.post(reverse("resource_create"), {"title": "Logo", "kind": "guide", "file": svg})
    assert list(response.context["form"].errors) == ["file"]
    # And the API answers 400 naming it.
    big.seek(0)
    response = api.post("/api/v1/assets/", {"title": "Big", "kind": "guide", "file": big})
    assert response.status_code == 400
    assert response.json() == {"file": [TOO_BIG]}
    svg.seek(0)
    response = api.post("/api/v1/assets/", {"title": "Logo", "kind": "guide", "file": svg})
    assert response.status_code == 400 and list(response.json()) == ["file"]
    response = api.post("/api/v1/assets/", {"title": "Odd", "kind": "poster", "url": "https://x.example.com"})
    assert response.status_code == 400 and list(response.json()) == ["kind"]
    assert Resource.objects.count() == 1


def test_managers_upload_and_edit_through_portal_and_api(world, client, tiers):
    api = _login(client, world.manager)
    upload = SimpleUploadedFile("sheet.pdf", b"%PDF-1.4", content_type="application/pdf")
    response = api.post(
        reverse("resource_create"), {"title": "Sheet", "kind": "datasheet", "file": upload, "is_published": "on"}
    )
    assert response.status_code == 302
    sheet = Resource.objects.get(title="Sheet")
    assert sheet.file.name.startswith("enablement/resources/") and sheet.file.name.endswith(".pdf")
    # Editing without a new file keeps the stored one.
    response = api.post(
        reverse("resource_edit", args=[sheet.pk]),
        {"title": "Sheet v2", "kind": "datasheet", "min_tier": tiers.silver.pk, "is_published": "on"},
    )
    assert response.status_code == 302
    sheet.refresh_from_db()
    assert (sheet.title, sheet.min_tier, sheet.file.name.endswith(".pdf")) == ("Sheet v2", tiers.silver, True)
    kit = SimpleUploadedFile("kit.zip", b"PK\x05\x06" + b"\0" * 18, content_type="application/zip")
    response = api.post(
        "/api/v1/assets/",
        {"title": "Kit", "kind": "campaign_kit", "file": kit, "min_tier": "gold", "co_brandable": "true"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["min_tier"] == "gold" and response.json()["co_brandable"] is True
    response = api.patch(
        f"/api/v1/assets/{response.json()['id']}/", {"title": "Kit 2"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["title"] == "Kit 2"
    # Partners read; they do not write.
    partner = _login(client, world.admin_a)
    mine = {"title": "Mine", "kind": "guide", "url": "https://a.example"}
    assert partner.post("/api/v1/assets/", mine).status_code == 403
    assert partner.get(reverse("resource_create")).status_code == 403
    assert partner.get(reverse("resource_edit", args=[sheet.pk])).status_code == 404  # silver: not unlocked
    with pytest.raises(PermissionDenied):
        resource_update(actor=world.admin_a, resource=sheet, title="x")


def test_course_writes_are_for_managers(world, client, tiers):
    api = _login(client, world.manager)
    response = api.post(
        "/api/v1/courses/",
        {"code": "new", "title": "New", "min_tier": "silver", "pass_mark_percent": 101, "max_attempts": 2},
        content_type="application/json",
    )
    assert response.status_code == 400 and list(response.json()) == ["pass_mark_percent"]
    response = api.post(
        "/api/v1/courses/",
        {"code": "new", "title": "New", "min_tier": "silver", "pass_mark_percent": 80, "is_published": True},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["min_tier"] == "silver"
    course = Course.objects.get(code="new")
    response = api.patch(f"/api/v1/courses/{course.pk}/", {"max_attempts": 5}, content_type="application/json")
    assert response.status_code == 200 and response.json()["max_attempts"] == 5
    silver_partner = factories.PartnerFactory(tier=tiers.silver)
    silver_admin = factories.partner_admin(silver_partner)
    partner = _login(client, silver_admin)
    assert partner.post("/api/v1/courses/", {"code": "x", "title": "X"}).status_code == 403
    response = partner.patch(f"/api/v1/courses/{course.pk}/", {"title": "Hijacked"}, content_type="application/json")
    assert response.status_code == 403
    assert Course.objects.get(pk=course.pk).title == "New"
    assert partner.get(reverse("course_edit", args=[course.pk])).status_code == 403
    assert partner.get(reverse("lesson_create", args=[course.pk])).status_code == 403
