from django import forms


class VoidForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Kept with the invoice for audit.")


class CreditNoteForm(forms.Form):
    amount = forms.CharField(max_length=32, help_text="In the invoice's currency, at most what remains creditable.")
    reason = forms.CharField(max_length=500, help_text="Shown on the credit note.")
