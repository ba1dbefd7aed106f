import json
from decimal import Decimal

from django import forms
from django.core.serializers.json import DjangoJSONEncoder

from prm.core.money import CURRENCY_CHOICES
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


class JSONListField(forms.CharField):
    """A JSON list typed into a textarea (charges, credit packs); errors come from the service."""

    widget = forms.Textarea(attrs={"rows": 10, "class": "code", "spellcheck": "false"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return []
        try:
            parsed = json.loads(value, parse_float=Decimal)
        except ValueError as error:
            raise forms.ValidationError(f"Not valid JSON: {error}") from None
        if not isinstance(parsed, list):
            raise forms.ValidationError("Must be a JSON list.")
        return parsed

    def prepare_value(self, value):
        if isinstance(value, list):
            return json.dumps(value, indent=2, cls=DjangoJSONEncoder)
        return value


class PlanForm(forms.Form):
    code = forms.CharField(max_length=64, help_text="Stable identifier, e.g. api-growth.")
    name = forms.CharField(max_length=120)
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="USD")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    is_active = forms.BooleanField(required=False, initial=True, label="Open for new subscriptions")
    charges = JSONListField(
        help_text='The pricing contract\'s charges, e.g. [{"model": "per_unit", "metric": "api_calls", '
        '"unit_amount": "0.002", "free_units": "1000"}].'
    )
    minimum_commitment = forms.DecimalField(
        required=False, min_value=0, help_text="Per period; a true-up line tops up."
    )
    credit_packs = JSONListField(
        required=False, help_text='Optional: [{"name": "Starter", "price": "90", "credits": "100"}].'
    )
    entitlements = forms.CharField(
        required=False, help_text="Features the plan unlocks, separated by commas (e.g. sso, audit-log)."
    )

    def __init__(self, *args, actor, plan=None, **kwargs):
        if plan is not None:
            version = plan.current_version
            kwargs.setdefault("initial", {}).update(
                code=plan.code, name=plan.name, currency=plan.currency, description=plan.description,
                is_active=plan.is_active, charges=version.charges, minimum_commitment=version.minimum_commitment,
                credit_packs=version.credit_packs, entitlements=", ".join(version.entitlements),
            )  # fmt: skip
        super().__init__(*args, **kwargs)
        if plan is not None:
            self.fields["code"].disabled = True

    def clean_entitlements(self):
        return [item.strip() for item in self.cleaned_data["entitlements"].split(",") if item.strip()]
