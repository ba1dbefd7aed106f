"""Enablement API: courses (with lessons and quiz questions, never the correct options for a partner),
quiz attempts graded on the server, certifications, and the resource library's assets."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from prm.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from prm.core.serializers import ServiceSerializerMixin, call_service
from prm.enablement import services
from prm.enablement.filtersets import CertificationFilterSet, CourseFilterSet, ResourceFilterSet
from prm.enablement.models import Certification, Course, Lesson, Option, Question, QuizAttempt, Resource
from prm.enablement.permissions import can_manage_enablement
from prm.enablement.validators import ALLOWED_EXTENSIONS, MAX_UPLOAD_BYTES
from prm.partners.models import Tier


def _is_manager(context) -> bool:
    request = context.get("request")
    return request is not None and can_manage_enablement(request.user)


class LessonSerializer(serializers.ModelSerializer):
    body_html = serializers.CharField(read_only=True, help_text="The lesson rendered from Markdown and sanitized.")

    class Meta:
        model = Lesson
        fields = ["id", "position", "title", "body_html"]
        read_only_fields = fields


class OptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Option
        fields = ["id", "position", "text"]
        read_only_fields = fields


class QuestionSerializer(serializers.ModelSerializer):
    options = OptionSerializer(many=True, read_only=True)

    class Meta:
        model = Question
        fields = ["id", "position", "text", "options"]
        read_only_fields = fields


class ManagerOptionSerializer(OptionSerializer):
    class Meta(OptionSerializer.Meta):
        fields = [*OptionSerializer.Meta.fields, "is_correct"]
        read_only_fields = fields


class ManagerQuestionSerializer(QuestionSerializer):
    options = ManagerOptionSerializer(many=True, read_only=True)


class ManagerLessonSerializer(LessonSerializer):
    class Meta(LessonSerializer.Meta):
        fields = [*LessonSerializer.Meta.fields, "body_markdown"]
        read_only_fields = fields


class CourseSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    """A course and its quiz settings. Channel managers create and change it; lessons and questions
    are written in the portal's course editor."""

    min_tier = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Tier.objects.all(),
        allow_null=True,
        required=False,
        help_text="The lowest tier (code) whose partners see the course; null: every partner.",
    )
    lesson_count = serializers.SerializerMethodField()
    question_count = serializers.SerializerMethodField()

    class Meta:
        model = Course
        fields = [
            "id", "code", "title", "summary", "min_tier", "validity_months", "pass_mark_percent", "max_attempts",
            "is_published", "lesson_count", "question_count", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    @extend_schema_field(OpenApiTypes.INT)
    def get_lesson_count(self, course) -> int:
        return len(course.lessons.all())

    @extend_schema_field(OpenApiTypes.INT)
    def get_question_count(self, course) -> int:
        return len(course.questions.all())

    def perform_service_create(self, actor, data):
        return services.course_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return services.course_update(actor=actor, course=instance, **data)


class CourseDetailSerializer(CourseSerializer):
    lessons = LessonSerializer(many=True, read_only=True)
    questions = QuestionSerializer(many=True, read_only=True, help_text="The quiz; the correct options are not sent.")

    class Meta(CourseSerializer.Meta):
        fields = [*CourseSerializer.Meta.fields, "lessons", "questions"]


class ManagerCourseDetailSerializer(CourseDetailSerializer):
    """For channel managers: the lessons' Markdown source and which options are correct."""

    lessons = ManagerLessonSerializer(many=True, read_only=True)
    questions = ManagerQuestionSerializer(many=True, read_only=True)


class AttemptRequestSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=50, allow_empty=True),
        help_text='Question id → the ids of the chosen options, for every question: {"12": [40], "13": [44, 46]}.',
    )


class CertificationSerializer(serializers.ModelSerializer):
    person = serializers.EmailField(source="person.email", read_only=True)
    person_name = serializers.CharField(source="person.display_name", read_only=True)
    partner_name = serializers.CharField(source="partner.name", read_only=True)
    course_code = serializers.CharField(source="course.code", read_only=True)
    course_title = serializers.CharField(source="course.title", read_only=True)
    # A plain string, not an enum: other apps' "status" enums already own that schema name.
    status = serializers.CharField(read_only=True, help_text="active, or expired (expires_at has passed).")

    class Meta:
        model = Certification
        fields = [
            "id", "person", "person_name", "partner", "partner_name", "course", "course_code", "course_title",
            "attempt", "issued_at", "expires_at", "status",
        ]  # fmt: skip
        read_only_fields = fields


class QuizAttemptSerializer(serializers.ModelSerializer):
    score_percent = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True)
    attempts_left = serializers.SerializerMethodField(help_text="Attempts still allowed at this course's quiz.")
    certification = CertificationSerializer(read_only=True, allow_null=True, default=None)

    class Meta:
        model = QuizAttempt
        fields = [
            "id", "course", "attempt_number", "answers", "correct_count", "question_count", "score_percent",
            "pass_mark_percent", "passed", "submitted_at", "attempts_left", "certification",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_attempts_left(self, attempt) -> int:
        return services.attempt_allowance(person=attempt.person, course=attempt.course).left


class CourseViewSet(ScopedModelViewSet):
    """Courses your tier unlocks (channel managers: all, drafts too), with their lessons and quiz.

    `POST /courses/{id}/attempts/` submits the quiz, graded here: the ids of another question or
    quiz, unknown or repeated ids and unanswered questions answer 400 naming `answers`; no attempts
    left answers 400 naming `attempts`. Passing certifies the person."""

    model = Course
    filterset_class = CourseFilterSet
    select_related = ("min_tier",)
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = super().get_queryset().prefetch_related("lessons", "questions")
        if self.action != "list":
            queryset = queryset.prefetch_related("questions__options")
        return queryset

    def get_serializer_class(self):
        if self.action == "attempts":
            return AttemptRequestSerializer
        if self.action == "list":
            return CourseSerializer
        return ManagerCourseDetailSerializer if _is_manager({"request": self.request}) else CourseDetailSerializer

    def get_permissions(self):
        # Taking the quiz is not changing the course: any signed-in caller who sees it may post;
        # the service decides (partners' people only).
        if self.action == "attempts":
            return [permissions.IsAuthenticated()]
        return super().get_permissions()

    def can_create(self):
        return can_manage_enablement(self.request.user)

    def can_change(self, obj):
        return can_manage_enablement(self.request.user)

    @extend_schema(request=AttemptRequestSerializer, responses={201: QuizAttemptSerializer})
    @action(detail=True, methods=["post"])
    def attempts(self, request, pk=None):
        course = self.get_object()  # 404 outside the caller's tier or for customers, before any 403
        data = AttemptRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attempt = call_service(
            services.quiz_attempt_submit, actor=request.user, course=course, answers=data.validated_data["answers"]
        )
        attempt = QuizAttempt.objects.select_related("person", "course", "partner").get(pk=attempt.pk)
        return Response(
            QuizAttemptSerializer(attempt, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class CertificationViewSet(ScopedReadOnlyViewSet):
    """Certifications: a partner's admins see their people's, a rep their own, managers all;
    `status=expired` lists the lapsed ones."""

    model = Certification
    serializer_class = CertificationSerializer
    filterset_class = CertificationFilterSet
    select_related = ("person", "partner", "course")
    lookup_value_regex = r"\d+"


class ResourceSerializer(ServiceSerializerMixin, serializers.ModelSerializer):
    kind = serializers.CharField(
        max_length=20, help_text="guide, datasheet, video, co_brandable_asset or campaign_kit."
    )
    file = serializers.FileField(
        write_only=True,
        required=False,
        allow_null=True,
        help_text=f"Multipart upload, at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, of type "
        f"{', '.join(ALLOWED_EXTENSIONS)}.",
    )
    file_name = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField(
        help_text="The portal's download (checks your tier) for a file; the link otherwise."
    )
    min_tier = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Tier.objects.all(),
        allow_null=True,
        required=False,
        help_text="The lowest tier (code) whose partners see it; null: every partner.",
    )

    class Meta:
        model = Resource
        fields = [
            "id", "title", "kind", "description", "file", "file_name", "url", "download_url", "min_tier",
            "co_brandable", "is_published", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_file_name(self, resource) -> str:
        return resource.file.name.rsplit("/", 1)[-1] if resource.file else ""

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, resource) -> str:
        url = resource.download_url()
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url

    def perform_service_create(self, actor, data):
        return services.resource_create(actor=actor, **data)

    def perform_service_update(self, actor, instance, data):
        return services.resource_update(actor=actor, resource=instance, **data)


class ResourceViewSet(ScopedModelViewSet):
    """The resource library and market assets your tier unlocks; channel managers add and change
    them (multipart, with the file). An oversized file or one of another type answers 400 naming `file`."""

    model = Resource
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilterSet
    select_related = ("min_tier",)
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    lookup_value_regex = r"\d+"

    def can_create(self):
        return can_manage_enablement(self.request.user)

    def can_change(self, obj):
        return can_manage_enablement(self.request.user)
