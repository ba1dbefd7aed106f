from django import forms

from prm.customers.models import UseCase
from prm.plans import pricing
from prm.plans.models import Metric, Plan

USAGE_PREFIX = "usage_"


class DealRegistrationForm(forms.Form):
    """Register a deal on one plan: the plan comes first (chosen on the page before, or carried from
    the price calculator), then one expected-usage field per metric the plan charges."""

    plan = forms.ModelChoiceField(
        queryset=Plan.objects.filter(is_active=True).order_by("name"), to_field_name="code", widget=forms.HiddenInput
    )
    company = forms.CharField(max_length=200, help_text="The prospect's company name, e.g. Acme Robotics Inc.")
    domain = forms.CharField(max_length=253, help_text="The prospect's web domain, e.g. acme-robotics.com.")
    expected_close = forms.DateField(
        help_text="YYYY-MM-DD.", widget=forms.DateInput(attrs={"type": "date"}), label="Expected close"
    )
    use_case = forms.ChoiceField(
        choices=[("", "—"), *UseCase.choices], required=False, help_text="What the customer will consume."
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=4000)

    def __init__(self, *args, actor, plan: Plan | None, initial_usage: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.chosen_plan = plan
        self.usage_fields = []
        if plan is None:
            return
        self.fields["plan"].initial = plan.code
        version = plan.current_version
        codes = list(dict.fromkeys(c.metric for c in pricing.parse_charges(version.charges) if c.metric))
        metrics = {metric.code: metric for metric in Metric.objects.filter(code__in=codes)}
        for code in codes:
            metric = metrics.get(code)
            name = f"{USAGE_PREFIX}{code}"
            self.fields[name] = forms.CharField(
                required=False,
                max_length=40,
                label=f"Expected {metric.name if metric else code} per month",
                help_text=f"In {metric.unit}s." if metric else "",
                initial=(initial_usage or {}).get(code, ""),
                widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0"}),
            )
            self.usage_fields.append(name)

    def clean(self):
        cleaned = super().clean()
        cleaned["expected_usage"] = {
            name.removeprefix(USAGE_PREFIX): value.strip()
            for name in self.usage_fields
            if (value := cleaned.pop(name, "") or "").strip()
        }
        return cleaned


class PlanChoiceForm(forms.Form):
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.filter(is_active=True).order_by("name"),
        to_field_name="code",
        empty_label="Choose a plan…",
        help_text="The plan the customer would subscribe to; the next step asks for the expected usage it charges.",
    )


class ApproveForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, label="Note", help_text="Optional; the partner reads it.")


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Why; the partner reads it.")


class LostForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Why the opportunity was lost.")


class WonForm(forms.Form):
    external_id = forms.CharField(
        max_length=100, label="Customer id", help_text="As your metering will send it, e.g. cus_acme."
    )
    subscription_external_id = forms.CharField(
        max_length=100, required=False, label="Subscription id", help_text="Empty: sub_ + the customer id without cus_."
    )
    started_at = forms.DateTimeField(required=False, label="Starts", help_text="UTC, YYYY-MM-DD HH:MM. Empty: now.")
    use_case = forms.ChoiceField(choices=[("", "The deal's"), *UseCase.choices], required=False)
