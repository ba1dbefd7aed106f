"""Forms of the commission rules: plain forms whose values the rules service validates (so the
portal and the API refuse bad input with the same messages, on the same fields)."""

from django import forms

from prm.core.money import CURRENCY_CHOICES
from prm.incentives.models import CommissionRule, RuleKind
from prm.partners.models import Tier
from prm.plans.models import Metric, Plan

PERIOD_HELP = "YYYY-MM, for example 2026-10."


class RuleTermsForm(forms.Form):
    """What a version of a rule says; the create form adds the code and the kind."""

    name = forms.CharField(max_length=120)
    effective_from = forms.CharField(max_length=7, label="First period", help_text=PERIOD_HELP)
    effective_to = forms.CharField(
        max_length=7, required=False, label="Last period", help_text="Empty: until it is revised or ended."
    )
    tier = forms.ModelChoiceField(
        queryset=Tier.objects.all(), required=False, empty_label="Every tier", help_text="Only partners of this tier."
    )
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.all(), required=False, empty_label="Every plan", help_text="Only lines of this plan."
    )
    metric = forms.ModelChoiceField(
        queryset=Metric.objects.all(),
        required=False,
        empty_label="Every metric",
        help_text="Only lines of this metric.",
    )
    rate = forms.CharField(
        max_length=32, required=False, label="Rate (%)",
        help_text="0–100. Empty on a revenue share: the partner's tier's base commission rate.",
    )  # fmt: skip
    first_months = forms.IntegerField(
        required=False, min_value=1, label="First months", help_text="A customer's first N billing periods …"
    )
    first_months_rate = forms.CharField(
        max_length=32, required=False, label="First-months rate (%)", help_text="… earn this rate instead."
    )
    bonus_amount = forms.CharField(
        max_length=32, required=False, label="Bonus", help_text="New-customer bonus: paid once, in the currency below."
    )
    cap_amount = forms.CharField(
        max_length=32, required=False, label="Cap per period", help_text="At most this much per partner per period."
    )
    currency = forms.ChoiceField(
        choices=[("", "—"), *CURRENCY_CHOICES], required=False, help_text="The currency of the bonus and the cap."
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor


class CommissionRuleForm(RuleTermsForm):
    code = forms.SlugField(max_length=60, help_text="Names the rule across its versions, e.g. revenue-share.")
    kind = forms.ChoiceField(choices=RuleKind.choices)
    field_order = ["code", "kind"]


class CommissionRuleReviseForm(RuleTermsForm):
    """A new version from a later period; starts from the latest version's terms."""

    field_order = ["effective_from"]

    def __init__(self, *args, rule: CommissionRule, **kwargs):
        initial = {name: getattr(rule, name) for name in self.base_fields if name != "effective_from"}
        initial.update(effective_to=rule.effective_to, tier=rule.tier_id, plan=rule.plan_id, metric=rule.metric_id)
        for name in ("rate", "first_months_rate", "bonus_amount", "cap_amount"):
            value = getattr(rule, name)
            initial[name] = "" if value is None else format(value.normalize(), "f")
        super().__init__(*args, initial=initial | (kwargs.pop("initial", None) or {}), **kwargs)
        self.fields["effective_from"].label = "From period"
        self.fields["effective_from"].help_text = f"After {rule.effective_from}, when version {rule.version} starts."
