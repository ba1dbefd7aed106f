from django import forms
from django.conf import settings

from prm.accounts.models import Role, User
from prm.partners.models import Partner, Tier


class PartnerForm(forms.ModelForm):
    reason = forms.CharField(
        required=False, max_length=300, help_text="Why the stage changes, if it does (kept in the history)."
    )

    class Meta:
        model = Partner
        fields = ["name", "website_domain", "country", "tier", "stage", "channel_manager", "parent"]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["channel_manager"].queryset = User.objects.filter(membership__role=Role.MANAGER)
        parents = Partner.objects.visible_to(actor).filter(parent__isnull=True)
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
        self.fields["parent"].queryset = parents


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = [
            "code", "name", "rank", "description",
            "min_trailing_revenue", "min_active_customers", "min_certified_people", "min_growth_percent",
            "base_commission_rate", "list_discount_percent", "mdf_eligible",
        ]  # fmt: skip

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields[
            "min_trailing_revenue"
        ].help_text = f"In {settings.PRM_PROGRAM_CURRENCY}, over the last 12 billing periods. Empty: no requirement."


class TierDecisionForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}), help_text="Kept with the decision."
    )
