"""Writes of the enablement app: courses, lessons, questions and resources (channel managers), lesson
progress and quiz attempts (partners' people), certifications (issued by passing a quiz).

Grading happens here and only here: the client sends the option ids it chose, never a score, and
the correct options never leave the server for a partner's eyes.
"""

import calendar
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from prm.accounts.models import Role, User
from prm.enablement.models import (
    Certification,
    Course,
    Lesson,
    LessonCompletion,
    Option,
    Question,
    QuizAttempt,
    Resource,
)
from prm.enablement.permissions import can_manage_enablement
from prm.notifications.services import notify

COURSE_FIELDS = (
    "code", "title", "summary", "min_tier", "validity_months", "pass_mark_percent", "max_attempts", "is_published",
)  # fmt: skip
LESSON_FIELDS = ("title", "position", "body_markdown")
RESOURCE_FIELDS = ("title", "kind", "description", "file", "url", "min_tier", "co_brandable", "is_published")
MAX_OPTIONS = 12


def _require_manager(actor, what: str) -> None:
    if not can_manage_enablement(actor):
        raise PermissionDenied(f"Only channel managers may {what}.")


def _assign(instance, fields: dict, allowed: tuple[str, ...]) -> None:
    for name, value in fields.items():
        if name in allowed:
            setattr(instance, name, value)


# --- courses, lessons, questions (channel managers) ---------------------------------------------


def course_create(*, actor, **fields) -> Course:
    _require_manager(actor, "create courses")
    course = Course()
    _assign(course, fields, COURSE_FIELDS)
    course.full_clean()
    with transaction.atomic():
        course.save()
    return course


def course_update(*, actor, course: Course, **fields) -> Course:
    _require_manager(actor, "change courses")
    with transaction.atomic():
        course = Course.objects.locked_for(actor, course.pk)
        _assign(course, fields, COURSE_FIELDS)
        course.full_clean()
        course.save()
    return course


def _next_position(rows) -> int:
    return (rows.aggregate(last=Max("position"))["last"] or 0) + 1


def _check_position_free(rows, position: int, *, exclude_pk=None) -> None:
    taken = rows.filter(position=position)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"position": f"Position {position} is taken in this course; choose another."})


def lesson_create(*, actor, course: Course, title: str, body_markdown: str, position: int | None = None) -> Lesson:
    _require_manager(actor, "write lessons")
    with transaction.atomic():
        course = Course.objects.locked_for(actor, course.pk)  # serializes positions within the course
        if position is None:
            position = _next_position(course.lessons.all())
        else:
            _check_position_free(course.lessons.all(), position)
        lesson = Lesson(course=course, title=title, body_markdown=body_markdown, position=position)
        lesson.full_clean()
        lesson.save()
    return lesson


def lesson_update(*, actor, lesson: Lesson, **fields) -> Lesson:
    _require_manager(actor, "change lessons")
    with transaction.atomic():
        Course.objects.locked_for(actor, lesson.course_id)
        lesson = Lesson.objects.select_for_update().get(pk=lesson.pk)
        _assign(lesson, {name: value for name, value in fields.items() if value is not None}, LESSON_FIELDS)
        _check_position_free(Lesson.objects.filter(course_id=lesson.course_id), lesson.position, exclude_pk=lesson.pk)
        lesson.full_clean()
        lesson.save()
    return lesson


def _clean_options(options) -> list[tuple[str, bool]]:
    """[(text, is_correct)] as given, checked: 2 to 12 distinct non-empty options, at least one correct."""
    cleaned = [(str(text).strip(), bool(correct)) for text, correct in options or []]
    if len(cleaned) < 2:
        raise ValidationError({"options": "Give at least two options."})
    if len(cleaned) > MAX_OPTIONS:
        raise ValidationError({"options": f"Give at most {MAX_OPTIONS} options."})
    if any(not text for text, _correct in cleaned):
        raise ValidationError({"options": "Every option needs a text."})
    if any(len(text) > 500 for text, _correct in cleaned):
        raise ValidationError({"options": "An option is at most 500 characters."})
    texts = [text.casefold() for text, _correct in cleaned]
    if len(set(texts)) != len(texts):
        raise ValidationError({"options": "Two options have the same text."})
    if not any(correct for _text, correct in cleaned):
        raise ValidationError({"options": "Mark at least one option correct."})
    return cleaned


def question_create(*, actor, course: Course, text: str, options, position: int | None = None) -> Question:
    """`options`: [(text, is_correct)], in the order they are shown."""
    _require_manager(actor, "write quiz questions")
    cleaned = _clean_options(options)
    with transaction.atomic():
        course = Course.objects.locked_for(actor, course.pk)
        if position is None:
            position = _next_position(course.questions.all())
        else:
            _check_position_free(course.questions.all(), position)
        question = Question(course=course, text=(text or "").strip(), position=position)
        question.full_clean()
        question.save()
        _save_options(question, cleaned)
    return question


def question_update(*, actor, question: Question, text: str | None = None, options=None, position=None) -> Question:
    """Changes a question; given options replace the old ones. Past attempts keep their stored
    answers and scores: a change applies to attempts from now on."""
    _require_manager(actor, "change quiz questions")
    cleaned = _clean_options(options) if options is not None else None
    with transaction.atomic():
        Course.objects.locked_for(actor, question.course_id)
        question = Question.objects.select_for_update().get(pk=question.pk)
        if text is not None:
            question.text = text.strip()
        if position is not None:
            _check_position_free(
                Question.objects.filter(course_id=question.course_id), position, exclude_pk=question.pk
            )
            question.position = position
        question.full_clean()
        question.save()
        if cleaned is not None:
            current = [(option.text, option.is_correct) for option in question.options.all()]
            if current != cleaned:
                question.options.all().delete()
                _save_options(question, cleaned)
    return question


def _save_options(question: Question, options: list[tuple[str, bool]]) -> None:
    Option.objects.bulk_create(
        Option(question=question, position=index, text=text, is_correct=correct)
        for index, (text, correct) in enumerate(options, start=1)
    )


# --- lessons read and quizzes taken (partners' people) --------------------------------------------


def _require_partner_person(actor) -> None:
    if not actor.is_partner_user:
        raise PermissionDenied("Courses are taken by partners' people; channel managers preview them.")


def _visible_course(actor, course_id: int) -> Course:
    try:
        return Course.objects.visible_to(actor).get(pk=course_id)
    except Course.DoesNotExist:
        # Unpublished, or above the partner's tier, since the page was loaded.
        raise PermissionDenied("This course is not available to you.") from None


def lesson_mark_read(*, actor, lesson: Lesson, now: datetime | None = None) -> LessonCompletion:
    _require_partner_person(actor)
    with transaction.atomic():
        _visible_course(actor, lesson.course_id)
        completion, _created = LessonCompletion.objects.get_or_create(
            person=actor, lesson=lesson, defaults={"partner": actor.partner, "completed_at": now or timezone.now()}
        )
    return completion


@dataclass(frozen=True)
class AttemptAllowance:
    used: int
    allowed: int
    certification: Certification | None  # an active one: nothing to retake until it expires

    @property
    def left(self) -> int:
        return 0 if self.certification else max(self.allowed - self.used, 0)


def attempt_allowance(*, person, course: Course, now: datetime | None = None) -> AttemptAllowance:
    """A person's attempts at a course since their last certification in it expired."""
    now = now or timezone.now()
    certifications = Certification.objects.filter(person=person, course=course)
    active = certifications.active(now).order_by("-expires_at").first()
    lapsed = certifications.filter(expires_at__lte=now).order_by("-expires_at").first()
    attempts = QuizAttempt.objects.filter(person=person, course=course)
    if lapsed is not None:
        attempts = attempts.filter(submitted_at__gte=lapsed.expires_at)
    return AttemptAllowance(used=attempts.count(), allowed=course.max_attempts, certification=active)


def quiz_attempt_submit(
    *, actor, course: Course, answers, now: datetime | None = None, email: bool = True
) -> QuizAttempt:
    """Grade one submission of the course's quiz; passing certifies the person.

    `answers`: {question id: [option ids]} (ids as ints, or as strings for JSON object keys). Every
    question needs at least one option; ids of another question, another quiz or nothing at all,
    duplicates, and missing questions are refused with the reason, under `answers`; no attempts
    left (or a certification still valid), under `attempts`. A refused submission uses no attempt.
    `email=False` (the demo seed) tells people in the portal only.
    """
    _require_partner_person(actor)
    now = now or timezone.now()
    with transaction.atomic():
        # One submission per person at a time: the attempt count is read and written under this lock.
        person = User.objects.select_for_update().get(pk=actor.pk)
        course = _visible_course(actor, course.pk)
        questions = list(course.questions.prefetch_related("options"))
        if not questions:
            raise ValidationError({"answers": "This course has no quiz yet."})
        allowance = attempt_allowance(person=person, course=course, now=now)
        if allowance.certification is not None:
            until = allowance.certification.expires_at.date().isoformat()
            raise ValidationError({"attempts": f"You are certified in this course until {until}: nothing to retake."})
        if allowance.left <= 0:
            raise ValidationError(
                {"attempts": f"No attempts left: you have used all {allowance.allowed} attempts at this quiz."}
            )
        chosen = _checked_answers(questions, answers)
        correct = sum(
            1
            for question in questions
            if set(chosen[question.pk]) == {option.pk for option in question.options.all() if option.is_correct}
        )
        total = len(questions)
        last_number = QuizAttempt.objects.filter(person=person, course=course).aggregate(n=Max("attempt_number"))["n"]
        attempt = QuizAttempt.objects.create(
            person=person,
            partner_id=actor.partner.pk,
            course=course,
            attempt_number=(last_number or 0) + 1,
            answers={str(question_id): options for question_id, options in chosen.items()},
            correct_count=correct,
            question_count=total,
            score_percent=(Decimal(correct) * 100 / Decimal(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
            pass_mark_percent=course.pass_mark_percent,
            # Whole numbers, so the boundary is exact: 3 of 4 is 75 %, which passes a 75 % mark.
            passed=correct * 100 >= course.pass_mark_percent * total,
            submitted_at=now,
        )
        if attempt.passed:
            _certify(attempt, person=person, email=email)
    return attempt


def _checked_answers(questions: list[Question], answers) -> dict[int, list[int]]:
    if not isinstance(answers, dict):
        raise ValidationError({"answers": "Send answers as an object: question id → list of chosen option ids."})
    by_id = {question.pk: question for question in questions}
    errors: list[str] = []
    chosen: dict[int, list[int]] = {}
    answered: set[int] = set()
    for key, option_ids in answers.items():
        question_id = _as_id(key)
        if question_id is None or question_id not in by_id:
            errors.append(f"Question {key} is not part of this quiz.")
            continue
        if question_id in answered:
            errors.append(f"Question {question_id} is answered twice.")
            continue
        answered.add(question_id)
        if not isinstance(option_ids, list | tuple) or any(
            _as_id(value, strings=False) is None for value in option_ids
        ):
            errors.append(f"Question {question_id}: send a list of option ids (whole numbers).")
            continue
        if not option_ids:
            errors.append(f"Question {question_id}: choose at least one option.")
            continue
        repeated = sorted({value for value in option_ids if option_ids.count(value) > 1})
        if repeated:
            errors.append(f"Question {question_id}: option {_ids(repeated)} chosen more than once.")
            continue
        own = {option.pk for option in by_id[question_id].options.all()}
        foreign = sorted(value for value in option_ids if value not in own)
        if foreign:
            errors.append(f"Question {question_id}: option {_ids(foreign)} is not one of its options.")
            continue
        chosen[question_id] = sorted(option_ids)
    missing = [question.pk for question in questions if question.pk not in answered]
    if missing:
        errors.append(f"Answer every question: no answer for question {_ids(missing)}.")
    if errors:
        raise ValidationError({"answers": errors})
    return chosen


def _as_id(value, *, strings: bool = True) -> int | None:
    """A positive whole number, or a string of digits when `strings` (JSON object keys); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if strings and isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) or None
    return None


def _ids(values) -> str:
    return ", ".join(str(value) for value in values)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, on the month's last day when it is shorter (31 Jan + 1 → 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _certify(attempt: QuizAttempt, *, person, email: bool = True) -> Certification:
    course = attempt.course
    certification = Certification(
        person=person,
        partner_id=attempt.partner_id,
        course=course,
        attempt=attempt,
        issued_at=attempt.submitted_at,
        expires_at=add_months(attempt.submitted_at, course.validity_months),
    )
    certification.full_clean()
    certification.save()
    admins = User.objects.filter(
        membership__partner_id=attempt.partner_id, membership__role=Role.PARTNER_ADMIN, is_active=True
    )
    notify(
        users=[person, *admins],
        kind="quiz.passed",
        title=f"{person.display_name} passed “{course.title}”",
        body=(
            f"Score {attempt.score_percent} % (pass mark {attempt.pass_mark_percent} %). "
            f"Certified until {certification.expires_at.date().isoformat()}."
        ),
        url=attempt.get_absolute_url(),
        email=email,
    )
    return certification


# --- resource library (channel managers) --------------------------------------------------------


def resource_create(*, actor, **fields) -> Resource:
    _require_manager(actor, "add to the resource library")
    resource = Resource()
    _assign(resource, fields, RESOURCE_FIELDS)
    resource.full_clean()  # the upload's type and size are checked here, on the `file` field
    with transaction.atomic():
        resource.save()
    return resource


def resource_update(*, actor, resource: Resource, **fields) -> Resource:
    _require_manager(actor, "change the resource library")
    with transaction.atomic():
        resource = Resource.objects.locked_for(actor, resource.pk)
        if "file" in fields and fields["file"] is None:
            del fields["file"]  # no new upload: keep the stored file
        elif fields.get("file") is False:
            fields["file"] = ""  # a form's "clear" box: no file (a link must remain)
        _assign(resource, fields, RESOURCE_FIELDS)
        resource.full_clean()
        resource.save()
    return resource
