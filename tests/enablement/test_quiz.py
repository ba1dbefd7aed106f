"""Quizzes are graded on the server: the boundary at the pass mark, the attempt limit, tampered
answers refused naming `answers`, and the correct options never shown to a partner."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from prm.enablement.models import Certification, QuizAttempt
from prm.enablement.services import attempt_allowance, question_create, question_update, quiz_attempt_submit
from tests.enablement.conftest import answers_for

pytestmark = pytest.mark.django_db


def _api(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _submit(client, course, answers):
    return client.post(f"/api/v1/courses/{course.pk}/attempts/", {"answers": answers}, content_type="application/json")


# --- grading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("questions", "pass_mark", "right", "score", "passed"),
    [
        # 3 of 4 = 75.00 %: exactly the 75 % mark passes (3 × 100 = 300 ≥ 75 × 4 = 300).
        (4, 75, 3, Decimal("75.00"), True),
        # 2 of 4 = 50.00 %: below.
        (4, 75, 2, Decimal("50.00"), False),
        # 2 of 3 = 66.666… %, shown 66.67: a 67 % mark is missed (200 < 201) …
        (3, 67, 2, Decimal("66.67"), False),
        # … and a 66 % mark is met (200 ≥ 198), though the shown score is rounded.
        (3, 66, 2, Decimal("66.67"), True),
        # 1 of 3 = 33.33 % (33.333… rounded half up at the second place).
        (3, 34, 1, Decimal("33.33"), False),
        # All right: 100 % passes a 100 % mark.
        (4, 100, 4, Decimal("100.00"), True),
        # 4 of 5 = 80 % against a 100 % mark.
        (5, 100, 4, Decimal("80.00"), False),
    ],
)
def test_score_and_pass_mark_boundary(world, make_course, questions, pass_mark, right, score, passed):
    course = make_course(questions=questions, pass_mark=pass_mark)
    attempt = quiz_attempt_submit(actor=world.rep_a, course=course, answers=answers_for(course, right=right))
    assert (attempt.correct_count, attempt.question_count) == (right, questions)
    assert attempt.score_percent == score
    assert attempt.passed is passed
    assert Certification.objects.filter(attempt=attempt).exists() is passed


def test_multiple_correct_options_need_all_of_them_and_nothing_else(world, make_course):
    course = make_course(questions=2, pass_mark=50, two_correct=True)
    first, second = course.questions.order_by("position")
    opts = {q.pk: {o.text.split()[0]: o.pk for o in q.options.all()} for q in (first, second)}
    # First question: only one of its two correct options (wrong). Second: both correct plus the
    # wrong one (wrong too). 0 of 2.
    answers = {
        str(first.pk): [opts[first.pk]["right"]],
        str(second.pk): [opts[second.pk]["right"], opts[second.pk]["other"], opts[second.pk]["wrong"]],
    }
    attempt = quiz_attempt_submit(actor=world.rep_a, course=course, answers=answers)
    assert (attempt.correct_count, attempt.score_percent, attempt.passed) == (0, Decimal("0.00"), False)
    # Both correct ones, in any order: right. 1 of 2 = 50 % passes the 50 % mark.
    answers[str(first.pk)] = [opts[first.pk]["other"], opts[first.pk]["right"]]
    attempt = quiz_attempt_submit(actor=world.rep_a, course=course, answers=answers)
    assert (attempt.correct_count, attempt.score_percent, attempt.passed) == (1, Decimal("50.00"), True)
    assert attempt.answers[str(first.pk)] == sorted([opts[first.pk]["other"], opts[first.pk]["right"]])


def test_api_grades_and_answers_with_the_result(world, client, make_course):
    course = make_course(questions=4, pass_mark=75, max_attempts=3)
    response = _submit(_api(client, world.admin_a), course, answers_for(course, right=2))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["score_percent"] == "50.00" and body["passed"] is False
    assert (body["correct_count"], body["question_count"], body["attempt_number"]) == (2, 4, 1)
    assert body["attempts_left"] == 2 and body["certification"] is None
    response = _submit(client, course, answers_for(course, right=3))
    body = response.json()
    assert (body["score_percent"], body["passed"], body["attempt_number"]) == ("75.00", True, 2)
    assert body["certification"]["course_code"] == "basics"
    assert body["certification"]["status"] == "active"
    assert body["attempts_left"] == 0  # certified: nothing to retake


# --- attempts ----------------------------------------------------------------------------------


def test_attempts_are_limited(world, client, make_course):
    course = make_course(max_attempts=2)
    api = _api(client, world.rep_a)
    for _ in range(2):
        assert _submit(api, course, answers_for(course, right=0)).status_code == 201
    response = _submit(api, course, answers_for(course, right=4))
    assert response.status_code == 400
    assert response.json() == {"attempts": ["No attempts left: you have used all 2 attempts at this quiz."]}
    assert QuizAttempt.objects.filter(person=world.rep_a).count() == 2
    assert not Certification.objects.exists()
    # Another person of the same partner has their own attempts.
    assert _submit(_api(client, world.admin_a), course, answers_for(course, right=4)).json()["passed"] is True


def test_no_retake_while_certified_and_fresh_attempts_once_expired(world, make_course):
    course = make_course(max_attempts=1, validity_months=12)
    earlier = datetime(2024, 1, 31, 9, 0, tzinfo=UTC)
    attempt = quiz_attempt_submit(actor=world.rep_a, course=course, answers=answers_for(course, right=4), now=earlier)
    certification = attempt.certification
    assert certification.expires_at == datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    with pytest.raises(ValidationError) as refused:
        quiz_attempt_submit(actor=world.rep_a, course=course, answers=answers_for(course, right=4), now=earlier)
    assert refused.value.message_dict == {
        "attempts": ["You are certified in this course until 2025-01-31: nothing to retake."]
    }
    # Expired since: the one allowed attempt is available again, and its failure uses it up.
    assert attempt_allowance(person=world.rep_a, course=course).left == 1
    retake = quiz_attempt_submit(actor=world.rep_a, course=course, answers=answers_for(course, right=0))
    assert retake.attempt_number == 2 and retake.passed is False
    assert attempt_allowance(person=world.rep_a, course=course).left == 0


def test_only_partner_people_take_quizzes(world, client, make_course):
    course = make_course()
    with pytest.raises(PermissionDenied):
        quiz_attempt_submit(actor=world.manager, course=course, answers=answers_for(course, right=4))
    assert _submit(_api(client, world.manager), course, answers_for(course, right=4)).status_code == 403
    # A customer does not even see the course.
    assert _submit(_api(client, world.customer_user_a1), course, answers_for(course, right=4)).status_code == 404
    assert not QuizAttempt.objects.exists()


# --- tampered answers --------------------------------------------------------------------------


def test_tampered_answers_are_refused_naming_answers(world, client, make_course):
    course = make_course(questions=2)
    other_course = make_course("other", questions=1)
    first, second = course.questions.order_by("position")
    right = {q.pk: q.options.get(is_correct=True).pk for q in (first, second)}
    wrong_first = first.options.filter(is_correct=False).first().pk
    foreign_option = other_course.questions.get().options.first().pk
    foreign_question = other_course.questions.get().pk
    cases = {
        "option of another question": (
            {str(first.pk): [right[second.pk]], str(second.pk): [right[second.pk]]},
            f"Question {first.pk}: option {right[second.pk]} is not one of its options.",
        ),
        "option of another quiz": (
            {str(first.pk): [foreign_option], str(second.pk): [right[second.pk]]},
            f"Question {first.pk}: option {foreign_option} is not one of its options.",
        ),
        "unknown option": (
            {str(first.pk): [999999], str(second.pk): [right[second.pk]]},
            f"Question {first.pk}: option 999999 is not one of its options.",
        ),
        "duplicate option": (
            {str(first.pk): [right[first.pk], right[first.pk]], str(second.pk): [right[second.pk]]},
            f"Question {first.pk}: option {right[first.pk]} chosen more than once.",
        ),
        "missing question": (
            {str(first.pk): [right[first.pk]]},
            f"Answer every question: no answer for question {second.pk}.",
        ),
        "question of another quiz": (
            {str(first.pk): [right[first.pk]], str(second.pk): [right[second.pk]], str(foreign_question): [1]},
            f"Question {foreign_question} is not part of this quiz.",
        ),
        "not a question id": (
            {str(first.pk): [right[first.pk]], str(second.pk): [right[second.pk]], "score": [1]},
            "Question score is not part of this quiz.",
        ),
        "nothing chosen": (
            {str(first.pk): [], str(second.pk): [right[second.pk]]},
            f"Question {first.pk}: choose at least one option.",
        ),
    }
    api = _api(client, world.rep_a)
    for name, (answers, message) in cases.items():
        response = _submit(api, course, answers)
        assert response.status_code == 400, name
        assert response.json() == {"answers": [message]}, name
    # Shapes DRF refuses before grading, still under `answers`.
    for answers in ({str(first.pk): ["x"]}, {str(first.pk): right[first.pk]}, [right[first.pk]], "all"):
        response = _submit(api, course, answers)
        assert response.status_code == 400 and set(response.json()) == {"answers"}, answers
    # A score sent along is ignored: the server grades (1 of 2 right = 50 %, below 75 %).
    response = api.post(
        f"/api/v1/courses/{course.pk}/attempts/",
        {"answers": {str(first.pk): [right[first.pk]], str(second.pk): [right[second.pk]]}, "score_percent": 100,
         "passed": True, "correct_count": 2},
        content_type="application/json",
    )  # fmt: skip
    assert response.json()["correct_count"] == 2
    response = _submit(api, other_course, {str(foreign_question): [wrong_first]})
    assert response.json() == {
        "answers": [f"Question {foreign_question}: option {wrong_first} is not one of its options."]
    }
    # None of the refused submissions used an attempt.
    assert QuizAttempt.objects.filter(person=world.rep_a).count() == 1


def test_several_problems_are_all_reported(world, make_course):
    course = make_course(questions=3)
    first, second, third = course.questions.order_by("position")
    with pytest.raises(ValidationError) as refused:
        quiz_attempt_submit(actor=world.rep_a, course=course, answers={str(first.pk): [0], "abc": [1]})
    assert refused.value.message_dict == {
        "answers": [
            f"Question {first.pk}: send a list of option ids (whole numbers).",
            "Question abc is not part of this quiz.",
            f"Answer every question: no answer for question {second.pk}, {third.pk}.",
        ]
    }


def test_portal_quiz_form_grades_and_reports_problems(world, client, make_course):
    course = make_course(questions=2, pass_mark=50)
    first, second = course.questions.order_by("position")
    client = _api(client, world.rep_a)
    url = reverse("course_quiz_submit", args=[course.pk])
    # One question unanswered: the page comes back with the reason and the choices made; no attempt is used.
    chosen = first.options.get(is_correct=True).pk
    response = client.post(url, {f"question-{first.pk}": [chosen]})
    assert response.status_code == 400
    assert f"Question {second.pk}: choose at least one option." in response.content.decode()
    assert f'value="{chosen}" checked' in response.content.decode()
    assert not QuizAttempt.objects.exists()
    # Tampered: an option of the other question.
    response = client.post(url, {f"question-{first.pk}": [second.options.first().pk], f"question-{second.pk}": ["x"]})
    assert response.status_code == 400
    assert "is not one of its options" in response.content.decode()
    response = client.post(
        url,
        {f"question-{first.pk}": [first.options.get(is_correct=True).pk],
         f"question-{second.pk}": [second.options.filter(is_correct=False).first().pk]},
    )  # fmt: skip
    attempt = QuizAttempt.objects.get()
    assert response.status_code == 302 and response["Location"] == attempt.get_absolute_url()
    assert (attempt.score_percent, attempt.passed) == (Decimal("50.00"), True)
    page = client.get(attempt.get_absolute_url()).content.decode()
    assert "50.00 %" in page and "Passed" in page


# --- the correct options stay on the server ----------------------------------------------------


def test_partners_never_receive_the_correct_options(world, client, make_course):
    course = make_course(questions=2)
    for user in (world.admin_a, world.rep_a):
        api = _api(client, user)
        detail = api.get(f"/api/v1/courses/{course.pk}/").json()
        assert [len(q["options"]) for q in detail["questions"]] == [3, 3]
        assert all(set(option) == {"id", "position", "text"} for q in detail["questions"] for option in q["options"])
        assert "is_correct" not in api.get("/api/v1/courses/").content.decode()
        page = api.get(reverse("course_detail", args=[course.pk])).content.decode()
        assert "right 1" in page  # the options are there …
        assert "(correct)" not in page and "✓" not in page and "is_correct" not in page  # … not which is right
        # A graded attempt does not reveal them either.
        attempt = _submit(api, course, answers_for(course, right=1)).json()
        assert "is_correct" not in str(attempt)
        assert "(correct)" not in api.get(reverse("quiz_attempt_detail", args=[attempt["id"]])).content.decode()
    # Channel managers write the quiz: they see which options are correct.
    manager = _api(client, world.manager).get(f"/api/v1/courses/{course.pk}/").json()
    assert [option["is_correct"] for option in manager["questions"][0]["options"]] == [True, False, False]
    assert "(correct)" in client.get(reverse("course_detail", args=[course.pk])).content.decode()


# --- writing questions -------------------------------------------------------------------------


def test_question_options_are_checked(world, make_course):
    course = make_course(questions=0)
    bad = {
        "one option": [("a", True)],
        "none correct": [("a", False), ("b", False)],
        "empty text": [("a", True), ("  ", False)],
        "same text": [("Yes", True), ("yes", False)],
    }
    for name, options in bad.items():
        with pytest.raises(ValidationError) as refused:
            question_create(actor=world.manager, course=course, text="Q?", options=options)
        assert set(refused.value.message_dict) == {"options"}, name
    question = question_create(actor=world.manager, course=course, text="Q?", options=[("a", True), ("b", False)])
    with pytest.raises(PermissionDenied):
        question_create(actor=world.admin_a, course=course, text="Q?", options=[("a", True), ("b", False)])
    question_update(actor=world.manager, question=question, options=[("a", False), ("b", True), ("c", False)])
    assert [(o.text, o.is_correct) for o in question.options.all()] == [("a", False), ("b", True), ("c", False)]


def test_question_editor_form_marks_correct_options_with_a_star(world, client, make_course):
    course = make_course(questions=0)
    client = _api(client, world.manager)
    response = client.post(
        reverse("question_create", args=[course.pk]), {"text": "Pick the primes", "options": "* 2\n4\n*3\n\n9"}
    )
    assert response.status_code == 302
    question = course.questions.get()
    assert [(o.text, o.is_correct) for o in question.options.all()] == [
        ("2", True), ("4", False), ("3", True), ("9", False),
    ]  # fmt: skip
    edit = client.get(reverse("question_edit", args=[question.pk])).content.decode()
    assert "* 2\n4\n* 3\n9" in edit
    response = client.post(reverse("question_edit", args=[question.pk]), {"text": "Pick", "options": "only one"})
    assert response.status_code == 200 and "Give at least two options." in response.content.decode()
    assert _api(client, world.admin_a).get(reverse("question_create", args=[course.pk])).status_code == 403


def test_certification_expiry_is_calendar_months(world, make_course):
    course = make_course(validity_months=1)
    now = datetime(2028, 1, 31, 12, 0, tzinfo=UTC)  # 31 January + 1 month → 29 February (a leap year)
    attempt = quiz_attempt_submit(actor=world.rep_a, course=course, answers=answers_for(course, right=4), now=now)
    assert attempt.certification.issued_at == now
    assert attempt.certification.expires_at == datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert attempt.certification.expires_at - now == timedelta(days=29)
