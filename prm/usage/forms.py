from django import forms


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Kept with the event for audit.")


class ReplaceForm(ReasonForm):
    value = forms.CharField(
        max_length=64, help_text="The corrected quantity (or, for a distinct count, the corrected key)."
    )


class UsageUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with the columns event_id, customer, metric, timestamp, value "
        "(optional: source, properties as a JSON object). At most 10,000 rows."
    )
