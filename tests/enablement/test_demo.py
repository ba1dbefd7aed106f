"""The demo's enablement data: courses, certifications of partners in Enable or later, a resource
library by tier; deterministic and idempotent."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.management import call_command

from prm.enablement.models import Certification, Course, LessonCompletion, QuizAttempt, Resource
from prm.enablement.selectors import certified_people
from prm.notifications.models import Notification
from prm.operations.demo_enablement import seed_enablement
from prm.partners.models import Stage
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_seed_enablement_is_deterministic_and_idempotent(world, tiers, gold_partner, client):
    gold, admin_g = gold_partner
    onboarding = factories.PartnerFactory(name="Onboarding Co", tier=tiers.registered, stage=Stage.ONBOARD)
    factories.partner_admin(onboarding, email="admin-o@test.example")

    result = seed_enablement(actor=world.manager, now=NOW)
    assert (result.courses_created, result.resources_created) == (3, 5)
    # Alpha and Beta (Sell, registered): the admin passes Platform basics and Consumption pricing; the rep
    # passed Platform basics 26 months ago (expired) and failed Consumption pricing once: 4 attempts, 3
    # certifications each. Gamma (gold): its admin passes all three courses. Onboarding Co: nothing.
    assert result.attempts_created == 4 + 4 + 3
    assert result.certifications == 3 + 3 + 3
    assert [course.code for course in Course.objects.order_by("code")] == [
        "advanced-integrations", "consumption-pricing", "platform-basics",
    ]  # fmt: skip
    assert Course.objects.get(code="advanced-integrations").min_tier == tiers.gold
    assert all(course.is_published and course.questions.count() >= 3 for course in Course.objects.all())
    assert not QuizAttempt.objects.filter(partner=onboarding).exists()
    assert certified_people(world.partner_a, at=NOW) == 1
    assert certified_people(gold, at=NOW) == 1
    assert Certification.objects.filter(person=admin_g).count() == 3
    expired = Certification.objects.get(person=world.rep_a)
    assert expired.expires_at < NOW and expired.course.code == "platform-basics"
    failed = QuizAttempt.objects.get(person=world.rep_a, passed=False)
    assert (failed.course.code, failed.submitted_at) == ("consumption-pricing", NOW - timedelta(days=3))
    assert LessonCompletion.objects.filter(person=world.rep_a, lesson__course__code="consumption-pricing").count() == 1
    # People are told in the portal, not by email from a seed.
    assert Notification.objects.filter(kind="quiz.passed").exists() and mail.outbox == []
    # The library by tier, files generated here.
    kinds = dict(Resource.objects.values_list("title", "kind"))
    assert set(kinds.values()) == {"guide", "datasheet", "video", "co_brandable_asset", "campaign_kit"}
    kit = Resource.objects.get(kind="campaign_kit")
    assert kit.min_tier == tiers.gold and kit.file.name.endswith(".zip") and kit.file.size > 0
    client.force_login(world.admin_a, backend="django.contrib.auth.backends.ModelBackend")
    assert {row["title"] for row in client.get("/api/v1/assets/").json()["results"]} == {
        "Platform overview", "Consumption pricing datasheet", "Getting started (video)",
    }  # fmt: skip

    counts = (
        Course.objects.count(),
        QuizAttempt.objects.count(),
        Certification.objects.count(),
        Resource.objects.count(),
    )
    again = seed_enablement(actor=world.manager, now=NOW + timedelta(days=1))
    assert (again.courses_created, again.resources_created, again.attempts_created) == (0, 0, 0)
    assert (Course.objects.count(), QuizAttempt.objects.count(), Certification.objects.count(),
            Resource.objects.count()) == counts  # fmt: skip


def test_demo_lessons_render_markdown(world, tiers):
    seed_enablement(actor=world.manager, now=NOW)
    lesson = Course.objects.get(code="platform-basics").lessons.get(position=3)
    assert "<table>" in lesson.body_html and "<td>Commissions</td>" in lesson.body_html


def test_no_missing_migrations():
    call_command("makemigrations", "enablement", "--check", "--dry-run", verbosity=0)
