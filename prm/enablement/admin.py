from django.contrib import admin

from prm.enablement.models import Certification, Course, Lesson, Option, Question, QuizAttempt, Resource


class LessonInline(admin.StackedInline):
    model = Lesson
    extra = 0
    fields = ["position", "title", "body_markdown"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["title", "code", "min_tier", "pass_mark_percent", "max_attempts", "validity_months", "is_published"]
    list_filter = ["is_published", "min_tier"]
    search_fields = ["title", "code"]
    inlines = [LessonInline]


class OptionInline(admin.TabularInline):
    model = Option
    extra = 0


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["course", "position", "text"]
    list_filter = ["course"]
    inlines = [OptionInline]


@admin.register(QuizAttempt)
class QuizAttemptAdmin(admin.ModelAdmin):
    list_display = ["person", "partner", "course", "attempt_number", "score_percent", "passed", "submitted_at"]
    list_filter = ["passed", "course"]
    readonly_fields = [field.name for field in QuizAttempt._meta.fields]


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ["person", "partner", "course", "issued_at", "expires_at"]
    list_filter = ["course"]


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "min_tier", "co_brandable", "is_published"]
    list_filter = ["kind", "min_tier", "co_brandable"]
    search_fields = ["title", "description"]
