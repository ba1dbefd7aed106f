from django import forms
from django.conf import settings

from prm.accounts.models import Role, User
from prm.partners.models import Industry, Partner, PartnerApplication, TargetMarket, Tier


class PartnerForm(forms.ModelForm):
    reason = forms.CharField(
        required=False, max_length=300, help_text="Why the stage changes, if it does (kept in the history)."
    )

    class Meta:
        model = Partner
        fields = [
            "name",
            "website_domain",
            "country",
            "industry",
            "region",
            "tier",
            "stage",
            "channel_manager",
            "parent",
        ]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["channel_manager"].queryset = User.objects.filter(membership__role=Role.MANAGER)
        parents = Partner.objects.visible_to(actor).filter(parent__isnull=True)
        if self.instance.pk:
            parents = parents.exclude(pk=self.instance.pk)
        self.fields["parent"].queryset = parents
        self.fields["industry"].required = False  # "Other" until someone knows better

    def clean_industry(self):
        return self.cleaned_data.get("industry") or Industry.OTHER


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


# --- recruit -------------------------------------------------------------------------------------


class PartnerApplicationForm(forms.ModelForm):
    """The public application form. `fax` is a honeypot: hidden from people (and from screen readers),
    filled in by bots, whose submissions are then thanked and dropped."""

    fax = forms.CharField(required=False, label="Leave this field empty", max_length=200)

    class Meta:
        model = PartnerApplication
        fields = [
            "company", "website", "country", "industry", "region", "specialties", "expected_customers",
            "contact_name", "contact_email", "message",
        ]  # fmt: skip
        labels = {
            "website": "Company website",
            "expected_customers": "Customers expected in the first year",
            "contact_name": "Your name",
            "contact_email": "Your work email",
            "message": "Anything else we should know",
        }
        help_texts = {
            "website": "For example acme-consulting.com",
            "country": "Two letters, such as US, DE or JP.",
            "specialties": "What you do for your customers: integration, data platforms, managed services …",
        }
        widgets = {
            "message": forms.Textarea(attrs={"rows": 4, "maxlength": 2000}),
            "specialties": forms.TextInput(attrs={"maxlength": 500}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fax"].widget.attrs.update({"autocomplete": "off", "tabindex": "-1"})
        self.fields["country"].widget.attrs.update({"maxlength": 2, "autocomplete": "country"})
        self.fields["contact_email"].widget.attrs.update({"autocomplete": "email"})
        for name in ("industry", "region"):
            self.fields[name].choices = [("", "Choose …"), *self.fields[name].choices[1:]]

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get(self.add_prefix("fax")))

    def _post_clean(self):
        # The service validates the model (and normalizes the domain); the form checks shapes only.
        pass


class ApplicationCommentForm(forms.Form):
    text = forms.CharField(
        label="Comment", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Seen by the channel managers only.",
    )  # fmt: skip


class ApplicationApproveForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: included in the welcome email.",
    )  # fmt: skip


class ApplicationRejectForm(forms.Form):
    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 2}), help_text="Sent to the applicant by email."
    )


# --- onboard -------------------------------------------------------------------------------------


class OnboardingCompleteForm(forms.Form):
    note = forms.CharField(required=False, max_length=300, help_text="Optional: how it was done.")


# --- strategize ----------------------------------------------------------------------------------


class TargetMarketForm(forms.ModelForm):
    class Meta:
        model = TargetMarket
        fields = ["industry", "region", "goal_partners", "goal_consumption", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3, "maxlength": 2000})}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields[
            "goal_consumption"
        ].help_text = (
            f"Trailing-12-month consumption revenue of the market's partners, in {settings.PRM_PROGRAM_CURRENCY}."
        )

    def _post_clean(self):
        pass  # the service validates the model and the one-target-per-cell rule
