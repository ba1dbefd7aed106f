"""Demo enablement: three courses with lessons and quizzes, the people of partners in the Enable stage
or later taking them, and a resource library with co-brandable assets and a campaign kit by tier.

Everything goes through the enablement services, so the quizzes are graded and the certifications
issued the way a partner's would be (with in-portal notifications; no emails from a seed).

Deterministic: partners in the Enable stage or later, by name; their people, admins first, then by
email. The first person passes Platform basics 60 days ago, Consumption pricing 30 days ago when the
partner is in Market or later, and Advanced integrations 14 days ago when its tier unlocks it. The
second person passed Platform basics 26 months ago (the certification has expired) and failed
Consumption pricing once, 3 days ago, after reading its first lesson.

Idempotent: a course, question set or resource is found by its code or title and left as it is; a
person who has attempted a course is not made to take it again.
"""

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.db.models import Case, IntegerField, Value, When

from prm.accounts.models import PARTNER_ROLES, Role, User
from prm.enablement.models import Certification, Course, QuizAttempt, Resource, ResourceKind
from prm.enablement.services import (
    course_create,
    lesson_create,
    lesson_mark_read,
    question_create,
    quiz_attempt_submit,
    resource_create,
)
from prm.partners.models import Partner, Stage, Tier

ENABLED_STAGES = [Stage.ENABLE, Stage.MARKET, Stage.SELL, Stage.INCENTIVIZE, Stage.ACCELERATE]
MARKETING_STAGES = ENABLED_STAGES[1:]

COURSES = [
    {
        "code": "platform-basics",
        "title": "Platform basics",
        "summary": "What the platform meters, how customers are onboarded and where partners find their figures.",
        "min_tier": None,
        "pass_mark_percent": 75,
        "lessons": [
            (
                "What the platform meters",
                "# What the platform meters\n\nEvery customer sends **usage events**: API calls, seats, GB-months, "
                "machine-hours. Each event names a *metric* and a customer.\n\n- Events are deduplicated by their id\n"
                "- Late events land in the open period\n- Bad events are quarantined, never dropped\n",
            ),
            (
                "Onboarding a customer",
                "# Onboarding a customer\n\n1. Create the customer with its external id\n2. Subscribe it to a plan\n"
                "3. Point its metering at `POST /api/v1/events`\n\nThe live estimate appears on the draft invoice "
                "within minutes.\n",
            ),
            (
                "Your figures in the portal",
                "# Your figures\n\n| Page | What it shows |\n|---|---|\n| Customers | usage and live cost |\n"
                "| Invoices | finalized months |\n| Commissions | what you earned, line by line |\n",
            ),
        ],
        "questions": [
            (
                "What does a usage event always name?",
                [("A metric and a customer", True), ("An invoice", False), ("A commission rule", False)],
            ),
            (
                "What happens to an event for an unknown customer?",
                [("It is dropped", False), ("It is quarantined", True), ("It is billed to the partner", False)],
            ),
            (
                "Which are billable metrics of the platform? (choose all)",
                [("API calls", True), ("GB-months", True), ("Office hours", False)],
            ),
            (
                "Where does the live estimate of a month appear?",
                [("On the draft invoice", True), ("On the statement", False)],
            ),
        ],
    },
    {
        "code": "consumption-pricing",
        "title": "Consumption pricing for partners",
        "summary": "Per-unit, graduated, volume and package charges, commitments and credits, and how to quote them.",
        "min_tier": None,
        "pass_mark_percent": 75,
        "lessons": [
            (
                "Charges and tiers",
                "# Charges\n\n- **per unit**: (quantity − free units) × unit amount\n- **graduated**: each tier prices "
                "its own units\n- **volume**: all units at the tier the total lands in\n- **package**: a started "
                "package counts whole\n",
            ),
            (
                "Commitments and prepaid credits",
                "# Commitments\n\nA *minimum commitment* brings a month's total up to it. Prepaid credits are drawn "
                "down before anything is charged.\n",
            ),
            (
                "Quoting with the calculator",
                "# Quoting\n\nUse the [price calculator](/plans/calculator/) with the expected usage per metric and "
                "attach the proposal to your deal registration.\n",
            ),
        ],
        "questions": [
            ("1,000 calls at 0.01 with 100 free units cost…", [("9.00", True), ("10.00", False), ("0.90", False)]),
            (
                "In a volume tier, which units get the tier's price?",
                [("All units", True), ("Only those inside the tier", False)],
            ),
            (
                "A package of 100 units at 5.00: what do 101 units cost?",
                [("5.05", False), ("10.00", True), ("5.00", False)],
            ),
            (
                "What comes before charging a month's usage?",
                [("Prepaid credits are drawn down", True), ("The commission is paid", False)],
            ),
        ],
    },
    {
        "code": "advanced-integrations",
        "title": "Advanced integrations",
        "summary": "CloudEvents and batch ingestion, amendments and webhooks, for partners who build on the API.",
        "min_tier": "gold",
        "pass_mark_percent": 67,
        "lessons": [
            (
                "Ingestion at scale",
                "# Ingestion at scale\n\nSend `application/cloudevents-batch+json` with up to 10,000 events. A 2xx "
                "means every accepted event is committed; rejected ones are reported by index.\n\n```\n"
                "POST /api/v1/events/batch\n```\n",
            ),
            (
                "Webhooks",
                "# Webhooks\n\nEvery delivery is signed: `PRM-Signature: t=…,v1=…`, an HMAC-SHA256 of "
                "`<t>.<body>` with your endpoint's secret. Reject deliveries older than five minutes.\n",
            ),
        ],
        "questions": [
            ("How many events may one batch carry?", [("100", False), ("10,000", True), ("Unlimited", False)]),
            (
                "What does a webhook signature cover?",
                [("The timestamp and the raw body", True), ("The URL only", False)],
            ),
            (
                "A 2xx answer to a batch means…",
                [("Every accepted event is committed", True), ("Every event was accepted", False)],
            ),
        ],
    },
]


def _campaign_kit() -> bytes:
    """A small ZIP made here: the kit's email, social posts and landing-page copy."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as kit:
        kit.writestr("README.txt", "Usage-based pricing campaign kit: an email, three posts, landing-page copy.\n")
        kit.writestr("email.txt", "Subject: Pay for what you use\n\nHi {{first_name}},\n\nOnly pay for what you use.\n")
        kit.writestr("posts.txt", "1. Pay per call, not per seat.\n2. Start free.\n3. Scale without renegotiating.\n")
        kit.writestr("landing-page.md", "# Pay for what you use\n\nMetered plans that grow with you.\n")
    return buffer.getvalue()


RESOURCES = [
    {
        "title": "Platform overview",
        "kind": ResourceKind.GUIDE,
        "description": "The platform in four pages: metering, rating, invoicing, commissions.",
        "min_tier": None,
        "file": (
            "platform-overview.md",
            b"# Platform overview\n\nMetering, rating, invoicing and commissions on one set of rows.\n",
        ),
    },
    {
        "title": "Consumption pricing datasheet",
        "kind": ResourceKind.DATASHEET,
        "description": "The charge models and what each costs at common volumes.",
        "min_tier": None,
        "file": ("pricing-datasheet.csv", b"model,quantity,amount\nper_unit,1000,9.00\npackage,101,10.00\n"),
    },
    {
        "title": "Getting started (video)",
        "kind": ResourceKind.VIDEO,
        "description": "A twelve-minute walk through the portal.",
        "min_tier": None,
        "url": "https://videos.example.com/prm/getting-started",
    },
    {
        "title": "Co-branded customer announcement",
        "kind": ResourceKind.CO_BRANDABLE_ASSET,
        "description": "An announcement email with your company's name filled in on download.",
        "min_tier": "silver",
        "co_brandable": True,
        "file": (
            "customer-announcement.txt",
            b"{{partner_name}} now offers metered plans: pay only for what you use.\n"
            b"Learn more at https://{{partner_website}}\n",
        ),
    },
    {
        "title": "Usage-based pricing campaign kit",
        "kind": ResourceKind.CAMPAIGN_KIT,
        "description": "Email, social posts and landing-page copy for a usage-based pricing campaign.",
        "min_tier": "gold",
        "co_brandable": True,
        "file": ("usage-pricing-campaign-kit.zip", None),  # built by _campaign_kit()
    },
]


@dataclass
class EnablementSeedResult:
    courses_created: int = 0
    resources_created: int = 0
    attempts_created: int = 0
    certifications: int = 0  # all of them, whichever run made them
    resources: int = 0

    @property
    def line(self) -> str:
        return (
            f"Enablement: {Course.objects.count()} courses (new this run: {self.courses_created}), "
            f"{self.certifications} certifications, {self.attempts_created} quiz attempts this run, "
            f"{self.resources} resources (new this run: {self.resources_created})."
        )


def seed_enablement(*, actor, now: datetime) -> EnablementSeedResult:
    result = EnablementSeedResult()
    tiers = {tier.code: tier for tier in Tier.objects.all()}
    courses = {}
    for spec in COURSES:
        course, created = _ensure_course(spec, actor=actor, tiers=tiers)
        courses[spec["code"]] = course
        result.courses_created += created
    for spec in RESOURCES:
        result.resources_created += _ensure_resource(spec, actor=actor, tiers=tiers)
    for partner in Partner.objects.filter(stage__in=ENABLED_STAGES).select_related("tier").order_by("name"):
        result.attempts_created += _seed_partner(partner, courses=courses, now=now)
    result.certifications = Certification.objects.count()
    result.resources = Resource.objects.count()
    return result


def _ensure_course(spec: dict, *, actor, tiers: dict) -> tuple[Course, bool]:
    course = Course.objects.filter(code=spec["code"]).first()
    if course is not None:
        return course, False
    min_tier = tiers.get(spec["min_tier"]) if spec["min_tier"] else None
    course = course_create(
        actor=actor,
        code=spec["code"],
        title=spec["title"],
        summary=spec["summary"],
        min_tier=min_tier,
        pass_mark_percent=spec["pass_mark_percent"],
        max_attempts=3,
        validity_months=24,
        is_published=True,
    )
    for title, body in spec["lessons"]:
        lesson_create(actor=actor, course=course, title=title, body_markdown=body)
    for text, options in spec["questions"]:
        question_create(actor=actor, course=course, text=text, options=options)
    return course, True


def _ensure_resource(spec: dict, *, actor, tiers: dict) -> bool:
    if Resource.objects.filter(title=spec["title"]).exists():
        return False
    fields = {
        "title": spec["title"],
        "kind": spec["kind"],
        "description": spec["description"],
        "min_tier": tiers.get(spec["min_tier"]) if spec["min_tier"] else None,
        "co_brandable": spec.get("co_brandable", False),
        "url": spec.get("url", ""),
    }
    if "file" in spec:
        name, content = spec["file"]
        fields["file"] = ContentFile(content if content is not None else _campaign_kit(), name=name)
    resource_create(actor=actor, **fields)
    return True


def _people(partner: Partner) -> list[User]:
    admins_first = Case(
        When(membership__role=Role.PARTNER_ADMIN, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return list(
        User.objects.filter(membership__partner=partner, membership__role__in=PARTNER_ROLES, is_active=True)
        .annotate(admins_first=admins_first)
        .order_by("admins_first", "email")
    )


def _answers(course: Course, *, correct: bool) -> dict[str, list[int]]:
    """Every question answered: with exactly its correct options, or with its first wrong one."""
    answers = {}
    for question in course.questions.prefetch_related("options"):
        options = [option for option in question.options.all() if option.is_correct is correct]
        answers[str(question.pk)] = [option.pk for option in options] if correct else [options[0].pk]
    return answers


def _take(person: User, course: Course | None, *, passed: bool, at: datetime, read: int | None = None) -> int:
    """One attempt at `course` by `person` at `at`, after reading `read` lessons (all: None); 0 when the
    course is missing, not unlocked for the person's partner, or already attempted."""
    if course is None or not Course.objects.visible_to(person).filter(pk=course.pk).exists():
        return 0
    if QuizAttempt.objects.filter(person=person, course=course).exists():
        return 0
    lessons = list(course.lessons.all())
    for lesson in lessons if read is None else lessons[:read]:
        lesson_mark_read(actor=person, lesson=lesson, now=at - timedelta(hours=2))
    quiz_attempt_submit(actor=person, course=course, answers=_answers(course, correct=passed), now=at, email=False)
    return 1


def _seed_partner(partner: Partner, *, courses: dict, now: datetime) -> int:
    people = _people(partner)
    made = 0
    if people:
        first = people[0]
        made += _take(first, courses.get("platform-basics"), passed=True, at=now - timedelta(days=60))
        if partner.stage in MARKETING_STAGES:
            made += _take(first, courses.get("consumption-pricing"), passed=True, at=now - timedelta(days=30))
        made += _take(first, courses.get("advanced-integrations"), passed=True, at=now - timedelta(days=14))
    if len(people) > 1:
        second = people[1]
        # 26 months ago, valid 24: expired two months ago.
        made += _take(second, courses.get("platform-basics"), passed=True, at=now - timedelta(days=26 * 30 + 5))
        made += _take(second, courses.get("consumption-pricing"), passed=False, at=now - timedelta(days=3), read=1)
    return made
