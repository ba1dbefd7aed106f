from django import forms

from prm.customers.models import Customer, Subscription
from prm.plans.models import Metric
from prm.usage.models import AlertRule


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Kept with the event for audit.")


class ReplaceForm(ReasonForm):
    value = forms.CharField(
        max_length=64, help_text="The corrected quantity (or, for a distinct count, the corrected key)."
    )


class UsageUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the columns event_id, customer, metric, timestamp, value "
        "(optional: source, properties as a JSON object). At most 10,000 rows."
    )


class AlertRuleForm(forms.ModelForm):
    """The fields of a rule; the service checks that they fit together (and names the field)."""

    class Meta:
        model = AlertRule
        fields = ["customer", "subscription", "metric", "measure", "basis", "threshold", "k", "baseline_days",
                  "is_active"]  # fmt: skip
        labels = {"k": "k (anomalies)", "baseline_days": "Baseline days (anomalies)"}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if actor.is_customer_user:
            # A customer's people set rules for their own customer: nothing to choose.
            del self.fields["customer"]
        else:
            self.fields["customer"].queryset = Customer.objects.visible_to(actor).order_by("name")
            if self.instance.pk:
                self.fields["customer"].disabled = True  # a rule stays with its customer
        subscriptions = Subscription.objects.visible_to(actor).select_related("customer").order_by("external_id")
        if self.instance.pk:
            subscriptions = subscriptions.filter(customer=self.instance.customer)
        self.fields["subscription"].queryset = subscriptions
        self.fields["subscription"].label_from_instance = lambda sub: f"{sub.external_id} · {sub.customer.name}"
        self.fields["subscription"].empty_label = "All of the customer's subscriptions"
        self.fields["metric"].queryset = Metric.objects.order_by("code")
        self.fields["metric"].empty_label = "— (all charges, for spend)"
        self.fields["threshold"].help_text = (
            "Greater than 0. Absolute: in the metric's unit (usage) or the customer's currency (spend). "
            "Percent: 80 means 80 %. Leave empty for an anomaly rule."
        )

    def _post_clean(self):
        # The model's constraints are checked by the service, which says which field is wrong and
        # why; run here they would only say "constraint violated", without naming a field.
        pass
