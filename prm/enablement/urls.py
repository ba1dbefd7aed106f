from django.urls import path

from prm.enablement import views

urlpatterns = [
    path("", views.CatalogueView.as_view(), name="course_catalogue"),
    path("courses/new/", views.CourseCreateView.as_view(), name="course_create"),
    path("courses/<int:pk>/", views.CourseDetailView.as_view(), name="course_detail"),
    path("courses/<int:pk>/edit/", views.CourseEditView.as_view(), name="course_edit"),
    path("courses/<int:pk>/quiz/", views.QuizSubmitView.as_view(), name="course_quiz_submit"),
    path("courses/<int:pk>/lessons/new/", views.LessonCreateView.as_view(), name="lesson_create"),
    path("courses/<int:pk>/questions/new/", views.QuestionCreateView.as_view(), name="question_create"),
    path("lessons/<int:pk>/edit/", views.LessonEditView.as_view(), name="lesson_edit"),
    path("lessons/<int:pk>/read/", views.lesson_mark_read, name="lesson_mark_read"),
    path("questions/<int:pk>/edit/", views.QuestionEditView.as_view(), name="question_edit"),
    path("attempts/<int:pk>/", views.QuizAttemptDetailView.as_view(), name="quiz_attempt_detail"),
    path("certifications/", views.CertificationListView.as_view(), name="certification_list"),
    path("progress/", views.ProgressView.as_view(), name="enablement_progress"),
    path("library/", views.ResourceListView.as_view(), name="resource_list"),
    path("library/new/", views.ResourceCreateView.as_view(), name="resource_create"),
    path("library/<int:pk>/edit/", views.ResourceEditView.as_view(), name="resource_edit"),
    path("library/<int:pk>/download/", views.resource_download, name="resource_download"),
]
