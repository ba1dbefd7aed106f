from django import forms

from prm.accounts.models import PARTNER_ROLES, User
from prm.customers.models import Customer
from prm.partners.models import Partner


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["reseller", "external_id", "name", "domain", "use_case", "currency", "assigned_rep", "is_active"]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if actor.is_manager:
            self.fields["reseller"].queryset = Partner.objects.order_by("name")
            reps = User.objects.filter(membership__role__in=PARTNER_ROLES)
        else:
            # A partner admin's customers belong to their own partner; the field is not theirs to set.
            del self.fields["reseller"]
            reps = User.objects.filter(membership__partner=actor.partner, membership__role__in=PARTNER_ROLES)
            self.instance.reseller = actor.partner
        self.fields["assigned_rep"].queryset = reps.order_by("full_name")
        if self.instance.pk:
            # The external id is what metering sends; changing it would orphan incoming usage.
            self.fields["external_id"].disabled = True
