from django import forms
from django.conf import settings

from prm.core.money import CURRENCY_CHOICES
from prm.incentives.mdf import MDF_PROOF_MAX_BYTES
from prm.incentives.models import MdfActivityType, MdfBudget
from prm.partners.models import Tier


class MdfRequestForm(forms.Form):
    activity = forms.CharField(
        max_length=200, help_text="What the funds pay for, e.g. “Webinar series: usage pricing”."
    )
    activity_type = forms.ChoiceField(choices=MdfActivityType.choices, label="Kind of activity")
    activity_date = forms.DateField(
        label="Activity date", help_text="YYYY-MM-DD; its quarter's budget pays.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip
    amount = forms.CharField(max_length=32, help_text="The amount requested, e.g. 2500.00.")
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial=settings.PRM_PROGRAM_CURRENCY)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=4000)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor


class ApproveForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, label="Note", help_text="Optional; the partner reads it.")


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Why; the partner reads it.")


class ClaimForm(forms.Form):
    claimed_amount = forms.CharField(
        max_length=32, required=False, label="What it cost", help_text="Empty: the approved amount."
    )
    proof_file = forms.FileField(
        required=False, label="Proof (file)",
        help_text=f"A PDF, PNG or JPEG of at most {MDF_PROOF_MAX_BYTES // (1024 * 1024)} MB: invoices, photos …",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}),
    )  # fmt: skip
    proof_url = forms.CharField(max_length=500, required=False, label="Proof (link)", help_text="Or a link: https://…")
    proof_note = forms.CharField(
        max_length=1000, required=False, label="Note", widget=forms.Textarea(attrs={"rows": 3})
    )


class PaidForm(forms.Form):
    reference = forms.CharField(max_length=200, help_text="The bank transfer's or payment's reference.")
    paid_at = forms.DateTimeField(required=False, label="Paid at", help_text="UTC, YYYY-MM-DD HH:MM. Empty: now.")


class MdfBudgetForm(forms.ModelForm):
    class Meta:
        model = MdfBudget
        fields = ["tier", "period", "amount", "currency", "note"]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["tier"].queryset = Tier.objects.filter(mdf_eligible=True).order_by("rank")
        self.fields["tier"].help_text = "Tiers whose partners may request MDF."
        if not self.instance.pk:
            self.fields["currency"].initial = settings.PRM_PROGRAM_CURRENCY
