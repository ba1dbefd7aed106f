"""Progress per partner (people certified, completion) and per person (started, completed, certified),
and the pages that show them to managers and partner admins."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from prm.enablement.selectors import partner_progress, people_progress
from prm.enablement.services import lesson_mark_read, quiz_attempt_submit
from tests.enablement.conftest import answers_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def learning(world, tiers, gold_partner, make_course):
    """Partner A (registered): 2 people, 2 courses available. Rep A holds a valid certification in Basics;
    Admin A's Basics certification has expired, and Admin A has read a lesson of Pricing.
    Gamma (gold): 1 person, 3 courses available (Basics, Pricing, Silver Plus); Admin G holds Silver Plus.
    A draft course counts for nobody."""
    gold, admin_g = gold_partner
    basics, pricing = make_course("basics"), make_course("pricing")
    silver = make_course("silver-plus", min_tier=tiers.silver)
    make_course("draft", is_published=False)
    quiz_attempt_submit(actor=world.rep_a, course=basics, answers=answers_for(basics, right=4))
    quiz_attempt_submit(
        actor=world.admin_a, course=basics, answers=answers_for(basics, right=4),
        now=datetime(2023, 1, 10, tzinfo=UTC),
    )  # fmt: skip
    lesson_mark_read(actor=world.admin_a, lesson=pricing.lessons.first())
    quiz_attempt_submit(actor=admin_g, course=silver, answers=answers_for(silver, right=3))
    return {"basics": basics, "pricing": pricing, "silver": silver, "gold": gold, "admin_g": admin_g}


def test_partner_progress(world, learning):
    rows = {row.partner.name: row for row in partner_progress(world.manager)}
    a, b, g = rows["Alpha Partners"], rows["Beta Partners"], rows["Gamma Gold"]
    # A: 1 valid certification over 2 people × 2 courses = 1/4 = 25.0 %.
    assert (a.people, a.certified_people, a.certifications, a.courses) == (2, 1, 1, 2)
    assert a.completion_percent == Decimal("25.0")
    # B: 2 people (admin and rep), nothing yet: 0/4.
    assert (b.people, b.certified_people, b.certifications, b.courses, b.completion_percent) == (
        2, 0, 0, 2, Decimal("0.0"),
    )  # fmt: skip
    # Gamma: 1 of 1 person × 3 courses = 33.3 % (33.333… rounded half up to one place).
    assert (g.people, g.certified_people, g.certifications, g.courses) == (1, 1, 1, 3)
    assert g.completion_percent == Decimal("33.3")
    # A partner admin gets only their own partner.
    assert [row.partner.name for row in partner_progress(world.admin_a)] == ["Alpha Partners"]


def test_people_progress(world, learning):
    rows = {row.person.email: row for row in people_progress(world.manager, world.partner_a)}
    admin, rep = rows["admin-a@test.example"], rows["rep-a@test.example"]
    basics, pricing = learning["basics"].pk, learning["pricing"].pk
    assert (admin.started, admin.completed) == ({basics, pricing}, {basics})
    assert (admin.active, [c.course_id for c in admin.lapsed]) == ([], [basics])
    assert admin.completion_percent == Decimal("0.0")
    assert (rep.started, rep.completed, [c.course_id for c in rep.active]) == ({basics}, {basics}, [basics])
    assert rep.completion_percent == Decimal("50.0")  # 1 of 2 courses
    # A rep sees only themselves.
    assert [row.person for row in people_progress(world.rep_a, world.partner_a)] == [world.rep_a]


def test_progress_pages(world, client, learning):
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("enablement_progress")).content.decode()
    assert "Alpha Partners" in page and "Beta Partners" in page and "25.0 %" in page and "33.3 %" in page
    page = client.get(reverse("enablement_progress"), {"partner": world.partner_a.pk}).content.decode()
    assert "Rep A" in page and "Admin A" in page and "50.0 %" in page
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("enablement_progress"), {"partner": world.partner_b.pk}).content.decode()
    assert "Alpha Partners" in page and "Rep A" in page and "25.0 %" in page
    assert "Beta Partners" not in page and "Admin B" not in page
    for user in (world.rep_a, world.customer_user_a1):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.get(reverse("enablement_progress")).status_code == 403
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("enablement_progress"), {"partner": 999999}).status_code == 404


def test_course_page_shows_a_person_their_progress(world, client, learning):
    pricing = learning["pricing"]
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("course_detail", args=[pricing.pk])).content.decode()
    assert "1 of 2" in page  # lessons read
    assert "3 of 3" in page  # attempts left
    response = client.post(reverse("lesson_mark_read", args=[pricing.lessons.last().pk]))
    assert response.status_code == 302
    assert "2 of 2" in client.get(reverse("course_detail", args=[pricing.pk])).content.decode()
    catalogue = client.get(reverse("course_catalogue")).content.decode()
    assert "In progress: 2 of 2 lessons read" in catalogue and "Certification expired" in catalogue
    # Managers preview; they do not mark lessons read.
    client.force_login(world.manager, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(reverse("lesson_mark_read", args=[pricing.lessons.last().pk])).status_code == 403
