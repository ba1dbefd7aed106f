from django import forms

from prm.plans.models import Metric


class MetricForm(forms.ModelForm):
    class Meta:
        model = Metric
        fields = ["code", "name", "unit", "aggregation", "field", "allow_negative", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.usage_events.exists():
            # How a metric counts is fixed once usage exists: past totals would change meaning.
            for name in ("code", "aggregation", "field"):
                self.fields[name].disabled = True
                self.fields[name].help_text = "Fixed: usage has been recorded with this metric."
