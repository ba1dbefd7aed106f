from django import forms


class StatementApproveForm(forms.Form):
    """Nothing to fill in: approving confirms the statement as shown (its entries and total)."""


class PayoutForm(forms.Form):
    reference = forms.CharField(max_length=200, help_text="The bank transfer's or payment's reference.")
    paid_at = forms.DateTimeField(required=False, label="Paid at", help_text="UTC, YYYY-MM-DD HH:MM. Empty: now.")
