from django import forms

from prm.accounts.models import PARTNER_ROLES, User
from prm.customers.models import ContractPolicy, Customer, PlanChoice
from prm.partners.models import Partner
from prm.plans.models import Plan


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


_WHEN = "UTC, YYYY-MM-DD HH:MM."


class ChangePlanForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.none(), help_text="Plans priced in the customer's currency.")
    effective_at = forms.DateTimeField(required=False, label="Takes effect", help_text=f"Empty: now. {_WHEN}")
    reason = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, subscription, actor=None, policy: ContractPolicy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        currency = subscription.customer.currency
        plans = Plan.objects.filter(is_active=True, currency=currency).order_by("name")
        if actor is not None and not actor.is_manager:
            # Self-service offers only the plans the contract rules open to it.
            policy = policy or ContractPolicy.current()
            if policy.plan_choice == PlanChoice.CHOSEN:
                plans = plans.filter(pk__in=policy.self_service_plans.values("pk"))
                self.fields["plan"].help_text = "The plans the program's contract rules open to self-service changes."
        self.fields["plan"].queryset = plans


class ChangeCommitmentForm(forms.Form):
    commitment = forms.DecimalField(
        required=False, min_value=0, max_digits=20, decimal_places=3,
        help_text="Committed spend per period. Empty: the plan's minimum. Raised at once, lowered at a period's end.",
    )  # fmt: skip
    effective_at = forms.DateTimeField(
        required=False,
        label="Takes effect",
        help_text=f"Empty: now for a raise, the next period for a lowering. {_WHEN}",
    )
    reason = forms.CharField(max_length=500, required=False)


class EndSubscriptionForm(forms.Form):
    ended_at = forms.DateTimeField(required=False, label="Ends", help_text=f"Empty: now. {_WHEN}")
    reason = forms.CharField(max_length=500, required=False)


class SubscriptionChangeDecisionForm(forms.Form):
    note = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Told to the person who asked for the change; required to reject.",
    )  # fmt: skip


class ContractPolicyForm(forms.ModelForm):
    class Meta:
        model = ContractPolicy
        fields = [
            "customer_self_service", "plan_choice", "self_service_plans", "commitment_minimum", "commitment_step",
            "lowering_notice_days", "one_plan_change_per_period", "approval",
        ]  # fmt: skip
        widgets = {"self_service_plans": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["self_service_plans"].queryset = Plan.objects.filter(is_active=True).order_by("currency", "name")
