"""Certifications: issued on passing, expiring, counted for tier criteria, told to the person and their
partner's admins, and scoped (B never sees A's; customers see none)."""

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from prm.enablement.models import Certification
from prm.enablement.selectors import certified_people, certified_people_by_partner, first_certification_at
from prm.enablement.services import quiz_attempt_submit
from prm.notifications.models import Notification
from tests import factories
from tests.enablement.conftest import answers_for

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2023, 3, 15, 10, 0, tzinfo=UTC)  # + 24 months = 2025-03-15: expired by now


def _pass(person, course, now=None):
    return quiz_attempt_submit(actor=person, course=course, answers=answers_for(course, right=4), now=now)


def test_passing_issues_a_certification_and_tells_the_person_and_admins(
    world, make_course, django_capture_on_commit_callbacks
):
    course = make_course(validity_months=18)
    second_admin = factories.partner_admin(world.partner_a, email="admin2-a@test.example")
    moment = datetime(2026, 5, 20, 8, 30, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        attempt = _pass(world.rep_a, course, now=moment)
    certification = Certification.objects.get()
    assert (certification.person, certification.partner, certification.course) == (world.rep_a, world.partner_a, course)
    assert certification.attempt == attempt
    assert certification.issued_at == moment
    assert certification.expires_at == datetime(2027, 11, 20, 8, 30, tzinfo=UTC)  # + 18 months
    notes = Notification.objects.filter(kind="quiz.passed").order_by("recipient__email")
    assert [n.recipient.email for n in notes] == ["admin-a@test.example", "admin2-a@test.example", "rep-a@test.example"]
    assert {n.title for n in notes} == {"Rep A passed “Basics”"}
    assert {n.body for n in notes} == {"Score 100.00 % (pass mark 75 %). Certified until 2027-11-20."}
    assert {n.url for n in notes} == {attempt.get_absolute_url()}
    assert sorted(message.to[0] for message in mail.outbox) == [
        "admin-a@test.example", "admin2-a@test.example", "rep-a@test.example",
    ]  # fmt: skip
    # Partner B's admin hears nothing of it; a failed attempt tells nobody.
    assert not Notification.objects.filter(recipient=world.admin_b).exists()
    with django_capture_on_commit_callbacks(execute=True):
        quiz_attempt_submit(actor=world.admin_a, course=course, answers=answers_for(course, right=0))
    assert Notification.objects.count() == 3 and len(mail.outbox) == 3
    assert second_admin.is_active


def test_certified_people_counts_distinct_active_people(world, make_course, tiers):
    basics, pricing = make_course("basics"), make_course("pricing")
    assert certified_people(world.partner_a) == 0
    _pass(world.rep_a, basics)
    _pass(world.rep_a, pricing)  # the same person twice: counted once
    _pass(world.admin_a, basics, now=LONG_AGO)  # expired: not counted
    _pass(world.admin_b, basics)
    assert certified_people(world.partner_a) == 1
    assert certified_people(world.partner_b) == 1
    assert certified_people_by_partner() == {world.partner_a.pk: 1, world.partner_b.pk: 1}
    # At a moment when the old one was valid and the new ones not yet issued.
    then = datetime(2024, 1, 1, tzinfo=UTC)
    assert certified_people(world.partner_a, at=then) == 1
    assert certified_people_by_partner(at=then) == {world.partner_a.pk: 1}
    # Someone who leaves (deactivated) no longer counts.
    world.rep_a.is_active = False
    world.rep_a.save()
    assert certified_people(world.partner_a) == 0
    assert first_certification_at(world.partner_a) == LONG_AGO
    assert first_certification_at(world.partner_b) is not None


def test_expired_certifications_show_as_expired(world, client, make_course):
    course = make_course()
    old = _pass(world.rep_a, course, now=LONG_AGO).certification
    new = _pass(world.admin_a, course).certification
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    rows = {row["id"]: row for row in client.get("/api/v1/certifications/").json()["results"]}
    assert rows[old.pk]["status"] == "expired" and rows[old.pk]["expires_at"] == "2025-03-15T10:00:00Z"
    assert rows[new.pk]["status"] == "active"
    assert [r["id"] for r in client.get("/api/v1/certifications/", {"status": "expired"}).json()["results"]] == [old.pk]
    assert [r["id"] for r in client.get("/api/v1/certifications/", {"status": "active"}).json()["results"]] == [new.pk]
    page = client.get(reverse("certification_list")).content.decode()
    assert "Expired" in page and "Active" in page
    csv = b"".join(client.get(reverse("certification_list"), {"export": "csv"}).streaming_content).decode()
    assert "expired" in csv and "active" in csv
    result = client.get(old.attempt.get_absolute_url()).content.decode()
    assert "Expired" in result and "2025-03-15" in result
    # The expired holder may take the quiz again.
    catalogue = client.get(reverse("course_catalogue")).content.decode()
    assert "Certified" in catalogue  # admin_a's own, active
    client.force_login(world.rep_a, backend="django.contrib.auth.backends.ModelBackend")
    assert "Certification expired" in client.get(reverse("course_catalogue")).content.decode()
    assert "Submit answers" in client.get(reverse("course_detail", args=[course.pk])).content.decode()


def test_certifications_are_scoped(world, client, make_course):
    course = make_course()
    rep_a = _pass(world.rep_a, course).certification
    admin_a = _pass(world.admin_a, course).certification
    admin_b = _pass(world.admin_b, course).certification
    expectations = {
        world.manager: {rep_a.pk, admin_a.pk, admin_b.pk},
        world.admin_a: {rep_a.pk, admin_a.pk},  # their people's
        world.rep_a: {rep_a.pk},  # their own
        world.admin_b: {admin_b.pk},
        world.customer_user_a1: set(),  # customers: none
    }
    for user, visible in expectations.items():
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        listing = client.get("/api/v1/certifications/").json()
        assert {row["id"] for row in listing["results"]} == visible, user.email
        for certification in (rep_a, admin_a, admin_b):
            detail = client.get(f"/api/v1/certifications/{certification.pk}/")
            assert detail.status_code == (200 if certification.pk in visible else 404), (user.email, certification)
            attempt_page = client.get(reverse("quiz_attempt_detail", args=[certification.attempt_id]))
            assert attempt_page.status_code == (200 if certification.pk in visible else 404)
        page = client.get(reverse("certification_list")).content.decode()
        assert ("Admin B" in page) is (admin_b.pk in visible), user.email
    # Read-only: nobody changes a certification through the API.
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    response = client.patch(f"/api/v1/certifications/{rep_a.pk}/", {"expires_at": "2099-01-01T00:00:00Z"})
    assert response.status_code == 405
    assert Certification.objects.get(pk=rep_a.pk).expires_at > timezone.now()
