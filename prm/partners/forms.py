from django import forms

from prm.accounts.models import Role, User
from prm.partners.models import Partner


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
