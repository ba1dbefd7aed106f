"""Enablement test set-up: tiers above the world's entry tier, and courses made through the services."""

from dataclasses import dataclass

import pytest

from prm.enablement.services import course_create, lesson_create, question_create
from prm.partners.models import Tier
from tests import factories


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    # Uploads land in a throw-away folder, never in the repository's media/.
    settings.MEDIA_ROOT = tmp_path / "media"


@dataclass
class Tiers:
    registered: Tier  # the world's entry tier (rank 1): partners A and B
    silver: Tier
    gold: Tier


@pytest.fixture
def tiers(world) -> Tiers:
    return Tiers(
        registered=world.partner_a.tier,
        silver=Tier.objects.create(code="silver", name="Silver", rank=2),
        gold=Tier.objects.create(code="gold", name="Gold", rank=3),
    )


@pytest.fixture
def gold_partner(tiers):
    """A gold partner with an admin, to see what a higher tier unlocks."""
    partner = factories.PartnerFactory(name="Gamma Gold", website_domain="gamma.example.com", tier=tiers.gold)
    admin = factories.partner_admin(partner, email="admin-g@test.example", full_name="Admin G")
    return partner, admin


@pytest.fixture
def make_course(world):
    """A published course whose quiz has `questions` questions: question i has options "right i" (correct),
    "wrong i" and "other i"; `two_correct=True` makes "other i" correct too."""

    def _make(code="basics", *, questions=4, pass_mark=75, max_attempts=3, min_tier=None, two_correct=False, **extra):
        course = course_create(
            actor=world.manager,
            code=code,
            title=code.replace("-", " ").title(),
            pass_mark_percent=pass_mark,
            max_attempts=max_attempts,
            min_tier=min_tier,
            is_published=extra.pop("is_published", True),
            **extra,
        )
        lesson_create(actor=world.manager, course=course, title="Intro", body_markdown="# Intro\n\nWelcome.")
        lesson_create(actor=world.manager, course=course, title="Details", body_markdown="Some **details**.")
        for i in range(1, questions + 1):
            question_create(
                actor=world.manager,
                course=course,
                text=f"Question {i}?",
                options=[(f"right {i}", True), (f"wrong {i}", False), (f"other {i}", two_correct)],
            )
        return course

    return _make


def answers_for(course, *, right: int, two_correct: bool = False) -> dict[str, list[int]]:
    """The first `right` questions answered correctly, the rest wrongly."""
    answers = {}
    for index, question in enumerate(course.questions.prefetch_related("options").order_by("position")):
        options = {option.text.split()[0]: option.pk for option in question.options.all()}
        if index < right:
            answers[str(question.pk)] = [options["right"], options["other"]] if two_correct else [options["right"]]
        else:
            answers[str(question.pk)] = [options["wrong"]]
    return answers
