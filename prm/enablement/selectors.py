"""Reads of the enablement app: certified people (for tier criteria), the course catalogue with a
person's progress, and progress per partner and per person. Each runs a fixed number of queries."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q
from django.utils import timezone

from prm.accounts.models import PARTNER_ROLES, User
from prm.enablement.models import Certification, Course, LessonCompletion, QuizAttempt
from prm.partners.models import Partner


def certified_people(partner, *, at: datetime | None = None) -> int:
    """People of `partner` holding at least one valid certification at `at` (now by default):
    active users, issued by then and not yet expired, each person counted once."""
    return (
        Certification.objects.active(at)
        .filter(partner=partner, person__is_active=True)
        .values("person")
        .distinct()
        .count()
    )


def certified_people_by_partner(*, at: datetime | None = None) -> dict[int, int]:
    """`certified_people` of every partner that has any, in one query: {partner id: people}."""
    rows = (
        Certification.objects.active(at)
        .filter(person__is_active=True)
        .values("partner")
        .annotate(people=Count("person", distinct=True))
        .order_by()
    )
    return {row["partner"]: row["people"] for row in rows}


def first_certification_at(partner) -> datetime | None:
    """When the partner's first certification was issued (evidence for the Enable stage)."""
    first = Certification.objects.filter(partner=partner).order_by("issued_at").values_list("issued_at", flat=True)
    return first.first()


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# --- the catalogue -----------------------------------------------------------------------------


@dataclass
class CourseCard:
    course: Course
    lessons_read: int = 0
    attempts: int = 0
    certification: Certification | None = None  # the latest one, active or expired

    @property
    def status(self) -> str:
        if self.certification is not None:
            return "expired" if self.certification.is_expired else "certified"
        if self.lessons_read or self.attempts:
            return "started"
        return "not_started"

    @property
    def status_label(self) -> str:
        return {
            "certified": "Certified",
            "expired": "Certification expired",
            "started": "In progress",
            "not_started": "Not started",
        }[self.status]


def course_catalogue(user) -> list[CourseCard]:
    """The courses `user` may see (by their partner's tier), each with the user's own progress."""
    courses = (
        Course.objects.visible_to(user)
        .select_related("min_tier")
        .annotate(lesson_count=Count("lessons", distinct=True), question_count=Count("questions", distinct=True))
        .order_by(F("min_tier__rank").asc(nulls_first=True), "title")
    )
    cards = {course.pk: CourseCard(course=course) for course in courses}
    if not user.is_partner_user or not cards:
        return list(cards.values())
    read = LessonCompletion.objects.filter(person=user).values("lesson__course").annotate(n=Count("pk")).order_by()
    for row in read:
        if row["lesson__course"] in cards:
            cards[row["lesson__course"]].lessons_read = row["n"]
    tried = QuizAttempt.objects.filter(person=user).values("course").annotate(n=Count("pk")).order_by()
    for row in tried:
        if row["course"] in cards:
            cards[row["course"]].attempts = row["n"]
    # Latest first, so the first seen per course is the one that counts.
    for certification in Certification.objects.filter(person=user).order_by("-expires_at", "-pk"):
        card = cards.get(certification.course_id)
        if card is not None and card.certification is None:
            card.certification = certification
    return list(cards.values())


# --- progress ----------------------------------------------------------------------------------


def _courses_unlocked_by_rank() -> list[int]:
    """The minimum-tier rank of every published course (0: every partner)."""
    return [rank or 0 for rank in Course.objects.filter(is_published=True).values_list("min_tier__rank", flat=True)]


def _available(course_ranks: list[int], tier_rank: int) -> int:
    return sum(1 for rank in course_ranks if rank <= tier_rank)


@dataclass
class PartnerProgress:
    partner: Partner
    people: int
    certified_people: int
    certifications: int  # valid ones, on courses the partner's tier unlocks
    courses: int  # published courses the partner's tier unlocks

    @property
    def completion_percent(self) -> Decimal | None:
        """Valid certifications over (people × courses available to them)."""
        return _percent(self.certifications, self.people * self.courses)


def partner_progress(user, *, now: datetime | None = None) -> list[PartnerProgress]:
    """Every partner `user` may see, with its people, certified people and completion: 3 queries."""
    now = now or timezone.now()
    partners = (
        Partner.objects.visible_to(user)
        .select_related("tier")
        .annotate(
            people=Count(
                "memberships",
                filter=Q(memberships__role__in=PARTNER_ROLES, memberships__user__is_active=True),
                distinct=True,
            )
        )
        .order_by("name")
    )
    unlocked = Q(course__is_published=True) & (
        Q(course__min_tier__isnull=True) | Q(course__min_tier__rank__lte=F("partner__tier__rank"))
    )
    # A person holds at most one valid certification per course (no retake while certified).
    figures = {
        row["partner"]: row
        for row in Certification.objects.visible_to(user)
        .active(now)
        .filter(person__is_active=True)
        .values("partner")
        .annotate(people=Count("person", distinct=True), certifications=Count("pk", filter=unlocked))
        .order_by()
    }
    ranks = _courses_unlocked_by_rank()
    rows = []
    for partner in partners:
        row = figures.get(partner.pk, {})
        rows.append(
            PartnerProgress(
                partner=partner,
                people=partner.people,
                certified_people=row.get("people", 0),
                certifications=row.get("certifications", 0),
                courses=_available(ranks, partner.tier.rank),
            )
        )
    return rows


@dataclass
class PersonProgress:
    person: User
    courses: int  # published courses available to the person's partner
    tier_rank: int
    started: set = field(default_factory=set)  # course ids with a lesson read or an attempt
    completed: set = field(default_factory=set)  # course ids ever passed
    active: list = field(default_factory=list)  # valid certifications
    lapsed: list = field(default_factory=list)  # courses whose last certification expired

    @property
    def completion_percent(self) -> Decimal | None:
        """Valid certifications on the courses available to the partner, over those courses."""
        counted = sum(
            1
            for certification in self.active
            if certification.course.is_published
            and (certification.course.min_tier is None or certification.course.min_tier.rank <= self.tier_rank)
        )
        return _percent(counted, self.courses)


def people_progress(user, partner: Partner, *, now: datetime | None = None) -> list[PersonProgress]:
    """The partner's people (for a rep: only themselves), each with courses started and completed and
    their certifications: 5 queries whatever the number of people."""
    now = now or timezone.now()
    people = User.objects.filter(membership__partner=partner, membership__role__in=PARTNER_ROLES, is_active=True)
    if not user.is_manager and not user.is_partner_admin:
        people = people.filter(pk=user.pk)
    courses = _available(_courses_unlocked_by_rank(), partner.tier.rank)
    rows = {
        person.pk: PersonProgress(person=person, courses=courses, tier_rank=partner.tier.rank)
        for person in people.order_by("full_name", "email")
    }
    for person_id, course_id in (
        LessonCompletion.objects.filter(partner=partner, person__in=list(rows))
        .values_list("person", "lesson__course")
        .distinct()
    ):
        rows[person_id].started.add(course_id)
    for person_id, course_id, passed in (
        QuizAttempt.objects.filter(partner=partner, person__in=list(rows))
        .values_list("person", "course", "passed")
        .distinct()
    ):
        rows[person_id].started.add(course_id)
        if passed:
            rows[person_id].completed.add(course_id)
    latest: dict[tuple[int, int], Certification] = {}
    for certification in (
        Certification.objects.filter(partner=partner, person__in=list(rows))
        .select_related("course__min_tier")
        .order_by("-expires_at", "-pk")
    ):
        latest.setdefault((certification.person_id, certification.course_id), certification)
    for (person_id, _course_id), certification in latest.items():
        if certification.expires_at > now:
            rows[person_id].active.append(certification)
        else:
            rows[person_id].lapsed.append(certification)
    return list(rows.values())
