"""Enablement (enable, market): courses with lessons and a quiz, certifications, and the resource
library of guides, datasheets and co-brandable marketing assets.

Courses and resources are the vendor's content, unlocked by tier: a partner's people see what its
program tier reaches (`min_tier` empty: every partner), channel managers see and edit everything,
customers see none of it. Quiz attempts, lesson progress and certifications belong to a person at
a partner and are tenant rows like any other (`visible_to`: the partner's admins see their people's,
a rep their own).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Subquery
from django.urls import reverse
from django.utils import timezone

from prm.core.tenancy import ScopeKind, Tenancy, TenantQuerySet, scope_of
from prm.enablement.rendering import render_markdown
from prm.enablement.validators import file_extension, validate_upload
from prm.partners.models import Partner, Tier


class TierGatedQuerySet(models.QuerySet):
    """The vendor's content as a user may see it: managers all of it (drafts too); a partner's
    people the published rows their partner's tier unlocks; customers and strangers nothing.

    The partner's tier rank is read in the same query (a subquery), so a tier change shows at once.
    """

    def visible_to(self, user):
        scope = scope_of(user)
        if scope.kind is ScopeKind.VENDOR:
            return self.all()
        if scope.kind is ScopeKind.PARTNER:
            return self.filter(is_published=True).filter(unlocked_for_partner(scope.partner_id))
        return self.none()

    def locked_for(self, user, pk):
        return self.visible_to(user).select_for_update(of=("self",)).get(pk=pk)


class CourseContentQuerySet(models.QuerySet):
    """Lessons and questions: visible with their course."""

    def visible_to(self, user):
        return self.filter(course__in=Course.objects.visible_to(user))


def unlocked_for_partner(partner_id: int, prefix: str = "") -> Q:
    """Rows whose minimum tier the partner's tier reaches (rank at least as high), or no minimum."""
    rank = Partner.objects.filter(pk=partner_id).values("tier__rank")[:1]
    return Q(**{f"{prefix}min_tier__isnull": True}) | Q(**{f"{prefix}min_tier__rank__lte": Subquery(rank)})


def min_tier_field(**kwargs) -> models.ForeignKey:
    return models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="minimum tier",
        help_text="Partners in this tier or a higher one see it. Empty: every partner.",
        **kwargs,
    )


class Course(models.Model):
    """A course: ordered lessons, then a quiz; passing the quiz certifies the person.

    The quiz is the course's questions with its pass mark and attempt limit. A person has
    `max_attempts` tries per certification: once a certification expires, the count starts again.
    """

    code = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True, help_text="Plain text, shown in the catalogue.")
    min_tier = min_tier_field()
    validity_months = models.PositiveSmallIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text="How long a certification earned in this course stays valid.",
    )
    pass_mark_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        verbose_name="pass mark %",
        help_text="The share of questions to answer correctly to pass, in percent.",
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Attempts per person and certification.",
    )
    is_published = models.BooleanField(
        default=False, verbose_name="published", help_text="Partners see published courses only."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TierGatedQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pass_mark_percent__gte=1, pass_mark_percent__lte=100), name="course_pass_mark_1_100"
            ),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="course_max_attempts_ge_1"),
            models.CheckConstraint(condition=Q(validity_months__gte=1), name="course_validity_months_ge_1"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("course_detail", args=[self.pk])


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    position = models.PositiveSmallIntegerField(help_text="Lessons are read in this order.")
    title = models.CharField(max_length=200)
    body_markdown = models.TextField(
        verbose_name="body", help_text="Markdown. Raw HTML, scripts and event handlers are removed."
    )
    # The sanitized rendering of body_markdown, kept so pages do not re-render on every view.
    body_html = models.TextField(editable=False, default="")

    objects = CourseContentQuerySet.as_manager()

    class Meta:
        ordering = ["course", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["course", "position"], name="lesson_position_unique")]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        # A cache derived from the source, refreshed on every save so no write path (service,
        # admin, fixture) can store HTML that did not come out of the sanitizer.
        self.body_html = render_markdown(self.body_markdown)
        if kwargs.get("update_fields") is not None and "body_markdown" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "body_html"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("course_detail", args=[self.course_id]) + f"#lesson-{self.pk}"


class Question(models.Model):
    """A multiple-choice question: one or more options are correct, and an answer is right only
    when it chooses exactly the correct ones."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    text = models.TextField(help_text="Plain text.")

    objects = CourseContentQuerySet.as_manager()

    class Meta:
        ordering = ["course", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["course", "position"], name="question_position_unique")]

    def __str__(self):
        return self.text[:80]

    def get_absolute_url(self):
        return reverse("course_detail", args=[self.course_id]) + f"#question-{self.pk}"


class Option(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=500)
    # Never serialized to partners, never rendered on their pages: grading is the server's.
    is_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["question", "position", "pk"]

    def __str__(self):
        return self.text


class LessonCompletion(models.Model):
    """A person marked a lesson read: the course counts as started."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lessons_read")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="lessons_read")
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="completions")
    completed_at = models.DateTimeField()

    tenancy = Tenancy(partner="partner", rep="person")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-completed_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["person", "lesson"], name="lesson_completion_once")]

    def __str__(self):
        return f"{self.person} read {self.lesson}"


class QuizAttempt(models.Model):
    """One graded submission of a course's quiz.

    `answers` keeps what was submitted, as question id → sorted option ids (strings as JSON keys),
    after validation. The score is right answers over questions: `passed` compares them in whole
    numbers (correct × 100 ≥ pass mark × questions), so 3 of 4 passes a 75 % mark exactly.
    """

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="quiz_attempts")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="attempts")
    attempt_number = models.PositiveSmallIntegerField(help_text="1 for the person's first attempt at this course.")
    answers = models.JSONField()
    correct_count = models.PositiveSmallIntegerField()
    question_count = models.PositiveSmallIntegerField()
    score_percent = models.DecimalField(max_digits=5, decimal_places=2)
    pass_mark_percent = models.PositiveSmallIntegerField(help_text="The course's pass mark when graded.")
    passed = models.BooleanField()
    submitted_at = models.DateTimeField()

    tenancy = Tenancy(partner="partner", rep="person")
    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["person", "course", "attempt_number"], name="quiz_attempt_number_unique"),
            models.CheckConstraint(
                condition=Q(correct_count__lte=models.F("question_count")), name="quiz_attempt_score"
            ),
        ]

    def __str__(self):
        return f"{self.person} · {self.course} · attempt {self.attempt_number}"

    def get_absolute_url(self):
        return reverse("quiz_attempt_detail", args=[self.pk])


class CertificationQuerySet(TenantQuerySet):
    def active(self, at=None):
        """Valid at `at` (now by default): issued by then, not yet expired."""
        at = at or timezone.now()
        return self.filter(issued_at__lte=at, expires_at__gt=at)


class Certification(models.Model):
    """Passing a course's quiz certifies the person for the course's validity period."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certifications")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="certifications")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="certifications")
    attempt = models.OneToOneField(QuizAttempt, on_delete=models.PROTECT, related_name="certification")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    tenancy = Tenancy(partner="partner", rep="person")
    objects = CertificationQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("issued_at")), name="certification_expires")
        ]
        indexes = [models.Index(fields=["partner", "expires_at"])]

    def __str__(self):
        return f"{self.person} · {self.course}"

    def get_absolute_url(self):
        return reverse("quiz_attempt_detail", args=[self.attempt_id])

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def status(self) -> str:
        return "expired" if self.is_expired else "active"


class ResourceKind(models.TextChoices):
    GUIDE = "guide", "Guide"
    DATASHEET = "datasheet", "Datasheet"
    VIDEO = "video", "Video link"
    CO_BRANDABLE_ASSET = "co_brandable_asset", "Co-brandable asset"
    CAMPAIGN_KIT = "campaign_kit", "Campaign kit"


class Resource(models.Model):
    """An item of the resource library: a file (downloaded through the portal, which checks the
    partner's tier) or a link (videos). Co-brandable text files get the partner's name filled in."""

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ResourceKind.choices)
    description = models.TextField(blank=True)
    file = models.FileField(
        max_length=255,
        upload_to="enablement/resources/%Y/%m/",
        blank=True,
        validators=[validate_upload],
        help_text="At most 10 MB: PDF, Office documents, images (PNG, JPEG), ZIP, or text (TXT, Markdown, CSV).",
    )
    url = models.URLField(blank=True, max_length=500, verbose_name="link", help_text="For videos: an https:// link.")
    min_tier = min_tier_field()
    co_brandable = models.BooleanField(
        default=False,
        verbose_name="co-brandable",
        help_text="Partners may add their brand. In text files, {{partner_name}} and {{partner_website}} are "
        "filled in on download.",
    )
    is_published = models.BooleanField(default=True, verbose_name="published")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TierGatedQuerySet.as_manager()

    class Meta:
        ordering = ["title", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(file="") | ~Q(url=""), name="resource_has_file_or_link"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("resource_list") + f"#resource-{self.pk}"

    def clean(self):
        if not self.file and not self.url:
            raise ValidationError({"file": "Upload a file or give a link."})
        if self.url and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValidationError({"url": "A link starts with https:// (or http://)."})

    @property
    def file_extension(self) -> str:
        return file_extension(self.file.name) if self.file else ""

    def download_url(self) -> str:
        """Where a person gets it: the portal's scoped download for files, the link otherwise."""
        return reverse("resource_download", args=[self.pk]) if self.file else self.url
