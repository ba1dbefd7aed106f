from django import forms

from prm.enablement.models import Course, Lesson, Question, Resource
from prm.enablement.services import MAX_OPTIONS


class CourseForm(forms.ModelForm):
    class Meta:
        model = Course
        fields = [
            "code", "title", "summary", "min_tier", "validity_months", "pass_mark_percent", "max_attempts",
            "is_published",
        ]  # fmt: skip
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["min_tier"].empty_label = "Every partner"


class LessonForm(forms.ModelForm):
    position = forms.IntegerField(
        required=False, min_value=1, help_text="Lessons are read in this order. Empty: after the last one."
    )

    class Meta:
        model = Lesson
        fields = ["title", "position", "body_markdown"]
        widgets = {"body_markdown": forms.Textarea(attrs={"rows": 18, "class": "code"})}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if self.instance.pk:
            self.fields["position"].required = True


def parse_option_lines(text: str) -> list[tuple[str, bool]]:
    """One option per line; a line starting with * is a correct one: "* 42" → ("42", True)."""
    options = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        correct = line.startswith("*")
        options.append((line[1:].strip() if correct else line, correct))
    return options


class QuestionForm(forms.Form):
    """A question and its options as lines of text, a * marking each correct option."""

    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, label="Question")
    position = forms.IntegerField(
        required=False, min_value=1, help_text="Questions are asked in this order. Empty: after the last one."
    )
    options = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "class": "code"}),
        help_text=f"One option per line, 2 to {MAX_OPTIONS}. Start each correct option with * (one or more).",
    )

    def __init__(self, *args, actor, instance: Question | None = None, **kwargs):
        if instance is not None and instance.pk and not kwargs.get("initial"):
            kwargs["initial"] = {
                "text": instance.text,
                "position": instance.position,
                "options": "\n".join(
                    f"* {option.text}" if option.is_correct else option.text for option in instance.options.all()
                ),
            }
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.instance = instance

    def clean_options(self):
        return parse_option_lines(self.cleaned_data["options"])


class ResourceForm(forms.ModelForm):
    url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Link", help_text="For videos: an https:// link."
    )

    class Meta:
        model = Resource
        fields = ["title", "kind", "description", "file", "url", "min_tier", "co_brandable", "is_published"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["min_tier"].empty_label = "Every partner"
