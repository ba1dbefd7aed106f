from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils import timezone

from prm.billing.credits import can_buy_credits_for
from prm.core.money import round_money
from prm.customers.models import Subscription, SubscriptionStatus


class VoidForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Kept with the invoice for audit.")


class CreditNoteForm(forms.Form):
    amount = forms.CharField(max_length=32, help_text="In the invoice's currency, at most what remains creditable.")
    reason = forms.CharField(max_length=500, help_text="Shown on the credit note.")


class CreditPackForm(forms.Form):
    """One choice per pack offered on a subscription the actor may buy for: the subscription and
    the pack in one select, each labelled with its credits and price."""

    offer = forms.ChoiceField(label="Credit pack", help_text="Its price is billed on the subscription's invoice.")

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        subscriptions = (
            Subscription.objects.visible_to(actor)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=timezone.now()), status=SubscriptionStatus.ACTIVE)
            .select_related("customer", "plan_version__plan")
            .order_by("customer__name", "external_id")
        )
        self.subscriptions = {}
        choices = []
        for subscription in subscriptions:
            if not can_buy_credits_for(actor, subscription.customer):
                continue
            currency = subscription.plan_version.plan.currency
            for pack in subscription.plan_version.credit_packs:
                value = f"{subscription.pk}:{pack['name']}"
                self.subscriptions[value] = (subscription, pack["name"])
                label = (
                    f"{subscription.customer.name} · {subscription.external_id} — {pack['name']}: "
                    f"{_money(pack['credits'], currency)} credits for {_money(pack['price'], currency)} {currency}"
                )
                choices.append((value, label))
        self.fields["offer"].choices = [("", "Choose a pack")] + choices

    def clean(self):
        cleaned = super().clean()
        if "offer" in cleaned:
            cleaned["subscription"], cleaned["pack"] = self.subscriptions[cleaned.pop("offer")]
        return cleaned


def _money(value: str, currency: str) -> str:
    return format(round_money(Decimal(value), currency), ",f")
