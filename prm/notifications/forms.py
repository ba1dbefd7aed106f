from django import forms

from prm.notifications.models import WebhookEndpoint
from prm.notifications.webhooks import event_type_choices


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label="URL",
        help_text="An http:// or https:// address that accepts a POST of JSON and answers 2xx within 5 seconds.",
    )
    event_types = forms.MultipleChoiceField(
        choices=event_type_choices,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        help_text="“All events” includes event types added later.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["partner", "url", "event_types", "description", "is_active"]
        labels = {"is_active": "Active"}
        help_texts = {"description": "What receives it, for people reading this list."}

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if self.instance.pk is None:
            del self.fields["is_active"]  # a new endpoint is active
        if actor.is_manager and self.instance.pk is None:
            # The FK's own queryset: notifications does not import the partners app.
            partner = self.fields["partner"]
            partner.queryset = partner.queryset.order_by("name")
            partner.required = False
            partner.empty_label = "None: a vendor endpoint (every partner's events)"
            partner.help_text = "Whose endpoint it is. A vendor endpoint receives the events of every partner."
        else:
            # A partner admin's endpoints are their partner's; and an endpoint never changes hands.
            del self.fields["partner"]


class NotificationPreferencesForm(forms.Form):
    """Two checkboxes per kind: `<kind>__portal` and `<kind>__email`."""

    def __init__(self, *args, preferences: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []
        for row in preferences:
            portal = f"{row['kind']}__portal"
            email = f"{row['kind']}__email"
            self.fields[portal] = forms.BooleanField(
                required=False, initial=row["portal"], label=f"{row['label']}: in the portal"
            )
            self.fields[email] = forms.BooleanField(
                required=False, initial=row["email"], label=f"{row['label']}: email"
            )
            self.rows.append({"kind": row["kind"], "label": row["label"], "portal": self[portal], "email": self[email]})

    def preferences(self) -> list[dict]:
        return [
            {
                "kind": row["kind"],
                "portal": self.cleaned_data[f"{row['kind']}__portal"],
                "email": self.cleaned_data[f"{row['kind']}__email"],
            }
            for row in self.rows
        ]
