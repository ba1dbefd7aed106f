"""Enablement pages: the course catalogue, a course (lessons and the quiz), a quiz result, the
resource library, certifications, progress; the channel managers' editors for all of it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from prm.core.views import ObjectCreateView, ObjectDetailView, ObjectEditView, ObjectListView
from prm.enablement import selectors, services
from prm.enablement.filtersets import CertificationFilterSet, ResourceFilterSet
from prm.enablement.forms import CourseForm, LessonForm, QuestionForm, ResourceForm
from prm.enablement.models import Certification, Course, Lesson, LessonCompletion, Question, QuizAttempt, Resource
from prm.enablement.permissions import can_manage_enablement, can_see_enablement, can_see_progress, can_take_courses
from prm.enablement.tables import CertificationTable, ResourceTable
from prm.enablement.validators import TEXT_EXTENSIONS
from prm.partners.models import Partner

# --- catalogue and course --------------------------------------------------------------------


class CatalogueView(LoginRequiredMixin, TemplateView):
    template_name = "enablement/catalogue.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can_see_enablement(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            title="Training",
            cards=selectors.course_catalogue(user),
            can_manage=can_manage_enablement(user),
            **kwargs,
        )


class CourseDetailView(ObjectDetailView):
    """A course's lessons and quiz. Partners' people read and take it; managers see it with the
    correct options marked, and edit it. The page never carries a partner the correct options."""

    model = Course
    select_related = ("min_tier",)
    template_name = "enablement/course_detail.html"

    def get_context_data(self, **kwargs):
        course, user = self.object, self.request.user
        lessons = list(course.lessons.all())
        questions = list(course.questions.prefetch_related("options"))
        context = {
            "lessons": lessons,
            "questions": questions,
            "can_manage": can_manage_enablement(user),
            "can_take": can_take_courses(user),
            "chosen": kwargs.pop("chosen", set()),
            "quiz_errors": kwargs.pop("quiz_errors", []),
        }
        if context["can_take"]:
            read = set(
                LessonCompletion.objects.filter(person=user, lesson__course=course).values_list("lesson", flat=True)
            )
            context["read"] = read
            context["lessons_read"] = sum(1 for lesson in lessons if lesson.pk in read)
            context["attempts"] = QuizAttempt.objects.filter(person=user, course=course).order_by("-submitted_at")
            context["allowance"] = services.attempt_allowance(person=user, course=course)
        if context["can_manage"]:
            context["stats"] = {
                "attempts": course.attempts.count(),
                "passed": course.attempts.filter(passed=True).count(),
                "certified": course.certifications.active().values("person").distinct().count(),
            }
        return super().get_context_data(**context, **kwargs)


class QuizSubmitView(CourseDetailView):
    """POST: grade the quiz. A refused submission (an unanswered question …) shows the course again
    with the reasons and the choices made; it uses no attempt."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        answers = {}
        for question in self.object.questions.all():
            values = request.POST.getlist(f"question-{question.pk}")
            answers[str(question.pk)] = [int(value) if value.isdigit() else value for value in values]
        try:
            attempt = services.quiz_attempt_submit(actor=request.user, course=self.object, answers=answers)
        except ValidationError as error:
            problems = [message for messages_ in error.message_dict.values() for message in messages_]
            # Option ids are unique across questions: one set ticks the boxes again.
            chosen = {value for values in answers.values() for value in values if isinstance(value, int)}
            context = self.get_context_data(object=self.object, quiz_errors=problems, chosen=chosen)
            return self.render_to_response(context, status=400)
        if attempt.passed:
            messages.success(request, f"Passed with {attempt.score_percent} %: you are certified.")
        else:
            messages.warning(request, f"Not passed: {attempt.score_percent} % of a {attempt.pass_mark_percent} % mark.")
        return redirect(attempt)


@require_POST
@login_required
def lesson_mark_read(request, pk):
    lesson = get_object_or_404(Lesson.objects.visible_to(request.user), pk=pk)
    services.lesson_mark_read(actor=request.user, lesson=lesson)
    return HttpResponseRedirect(lesson.get_absolute_url())


class QuizAttemptDetailView(ObjectDetailView):
    """A graded attempt: the score, pass or not, and the certification it earned."""

    model = QuizAttempt
    select_related = ("course", "person", "partner", "certification")
    template_name = "enablement/attempt_detail.html"
    context_object_name = "attempt"

    def get_context_data(self, **kwargs):
        attempt = self.object
        allowance = None
        if attempt.person_id == self.request.user.pk:
            allowance = services.attempt_allowance(person=self.request.user, course=attempt.course)
        return super().get_context_data(allowance=allowance, **kwargs)


# --- course editors (channel managers) -------------------------------------------------------


class CourseCreateView(ObjectCreateView):
    model = Course
    form_class = CourseForm

    def can_create(self):
        return can_manage_enablement(self.request.user)

    def save(self, form):
        return services.course_create(actor=self.request.user, **form.cleaned_data)


class CourseEditView(ObjectEditView):
    model = Course
    form_class = CourseForm

    def can_edit(self, obj):
        return can_manage_enablement(self.request.user)

    def save(self, form):
        return services.course_update(actor=self.request.user, course=self.object, **form.cleaned_data)


class _InCourseMixin:
    """A page under a course the user must see (404 otherwise) before being refused (403)."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.course = get_object_or_404(Course.objects.visible_to(request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(course=self.course, **kwargs)

    def get_success_url(self):
        return self.object.get_absolute_url()


class LessonCreateView(_InCourseMixin, ObjectCreateView):
    model = Lesson
    form_class = LessonForm
    extra_context = {"help_markdown": True}
    template_name = "enablement/course_part_form.html"

    def can_create(self):
        return can_manage_enablement(self.request.user)

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"title": f"New lesson in {self.course}"}

    def save(self, form):
        return services.lesson_create(actor=self.request.user, course=self.course, **form.cleaned_data)


class LessonEditView(ObjectEditView):
    model = Lesson
    form_class = LessonForm
    extra_context = {"help_markdown": True}
    template_name = "enablement/course_part_form.html"

    def can_edit(self, obj):
        return can_manage_enablement(self.request.user)

    def save(self, form):
        return services.lesson_update(actor=self.request.user, lesson=self.object, **form.cleaned_data)


class QuestionCreateView(_InCourseMixin, ObjectCreateView):
    model = Question
    form_class = QuestionForm
    template_name = "enablement/course_part_form.html"

    def can_create(self):
        return can_manage_enablement(self.request.user)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)  # a plain form: the service makes the question and its options
        return kwargs

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"title": f"New question in {self.course}"}

    def save(self, form):
        return services.question_create(actor=self.request.user, course=self.course, **form.cleaned_data)


class QuestionEditView(ObjectEditView):
    model = Question
    form_class = QuestionForm
    template_name = "enablement/course_part_form.html"

    def get_queryset(self):
        return super().get_queryset().prefetch_related("options")

    def can_edit(self, obj):
        return can_manage_enablement(self.request.user)

    def save(self, form):
        return services.question_update(actor=self.request.user, question=self.object, **form.cleaned_data)


# --- certifications and progress -----------------------------------------------------------


class CertificationListView(ObjectListView):
    model = Certification
    table_class = CertificationTable
    filterset_class = CertificationFilterSet
    select_related = ("person", "partner", "course")
    title = "Certifications"

    def get_table_kwargs(self):
        # A partner's people are all of one partner: the column would repeat its name.
        return {} if self.request.user.is_manager else {"exclude": ("partner",)}


class ProgressView(LoginRequiredMixin, TemplateView):
    """Managers: every partner's certified people and completion, and one partner's people on
    `?partner=<id>`. A partner's admins: their own partner and people."""

    template_name = "enablement/progress.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can_see_progress(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        user = self.request.user
        partner = None
        if user.is_partner_user:
            partner = user.partner
        elif self.request.GET.get("partner", "").isdigit():
            partner = get_object_or_404(
                Partner.objects.visible_to(user).select_related("tier"), pk=self.request.GET["partner"]
            )
        return super().get_context_data(
            title="Training progress",
            partners=selectors.partner_progress(user) if user.is_manager and partner is None else [],
            partner=partner,
            summary=next(iter(selectors.partner_progress(user)), None) if user.is_partner_user else None,
            people=selectors.people_progress(user, partner) if partner is not None else [],
            **kwargs,
        )


# --- resource library ------------------------------------------------------------------------


class ResourceListView(ObjectListView):
    model = Resource
    table_class = ResourceTable
    filterset_class = ResourceFilterSet
    select_related = ("min_tier",)
    title = "Resource library"
    create_url_name = "resource_create"

    def can_create(self):
        return can_manage_enablement(self.request.user)

    def get_table_kwargs(self):
        return {} if can_manage_enablement(self.request.user) else {"exclude": ("is_published", "edit")}


class ResourceCreateView(ObjectCreateView):
    model = Resource
    form_class = ResourceForm
    template_name = "enablement/resource_form.html"

    def can_create(self):
        return can_manage_enablement(self.request.user)

    def save(self, form):
        return services.resource_create(actor=self.request.user, **form.cleaned_data)


class ResourceEditView(ObjectEditView):
    model = Resource
    form_class = ResourceForm
    template_name = "enablement/resource_form.html"

    def can_edit(self, obj):
        return can_manage_enablement(self.request.user)

    def save(self, form):
        return services.resource_update(actor=self.request.user, resource=self.object, **form.cleaned_data)


@login_required
def resource_download(request, pk):
    """A library file, for those whose tier unlocks it (404 otherwise: files are never served from
    a public media URL). A co-brandable text file comes with the partner's name filled in."""
    resource = get_object_or_404(Resource.objects.visible_to(request.user), pk=pk)
    if not resource.file:
        if resource.url:
            return HttpResponseRedirect(resource.url)
        raise Http404
    filename = resource.file.name.rsplit("/", 1)[-1]
    partner = request.user.partner if request.user.is_partner_user else None
    if resource.co_brandable and partner is not None and resource.file_extension in TEXT_EXTENSIONS:
        with resource.file.open("rb") as stored:
            text = stored.read().decode("utf-8", errors="replace")
        text = text.replace("{{partner_name}}", partner.name).replace("{{partner_website}}", partner.website_domain)
        response = HttpResponse(text.encode("utf-8"), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{_ascii(filename)}"'
        return response
    return FileResponse(resource.file.open("rb"), as_attachment=True, filename=filename)


def _ascii(name: str) -> str:
    return "".join(char if char.isascii() and char not in '"\\' else "_" for char in name)
