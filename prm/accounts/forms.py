from django import forms

from prm.accounts.models import CUSTOMER_ROLES, PARTNER_ROLES, Role
from prm.accounts.services import roles_invitable_by
from prm.customers.models import Customer
from prm.partners.models import Partner


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField()
    partner = forms.ModelChoiceField(queryset=Partner.objects.none(), required=False)
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        roles = roles_invitable_by(actor)
        self.fields["role"].choices = [(role, Role(role).label) for role in roles]
        if any(role in PARTNER_ROLES for role in roles):
            self.fields["partner"].queryset = Partner.objects.visible_to(actor)
            self.fields["partner"].help_text = "For partner admins and reps."
        else:
            del self.fields["partner"]
        if any(role in CUSTOMER_ROLES for role in roles):
            self.fields["customer"].queryset = Customer.objects.visible_to(actor).select_related("reseller")
            self.fields["customer"].help_text = "For customer admins and viewers."
        else:
            del self.fields["customer"]
        if actor.is_partner_admin:
            self.fields["partner"].initial = actor.partner.pk
        if actor.is_customer_admin:
            self.fields["customer"].initial = actor.customer.pk


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your name")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(
        label="Password (again)", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. “metering pipeline”.")
