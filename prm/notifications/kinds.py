"""The registry of notification kinds and webhook event types, each with a label for people.

Domain apps pass plain strings (`notify(kind="deal.won", …)`, `publish_event(type="invoice.finalized", …)`);
this is the one place that names them for the preferences page, the inbox filter and the webhook
form. A kind missing here still works (it is shown as its code); add it so people can tell what
they are turning off.
"""

NOTIFICATION_KINDS: dict[str, str] = {
    "application.received": "Partner application received",
    "application.decided": "Partner application decided",
    "onboarding.completed": "Onboarding checklist completed",
    "quiz.passed": "Course quiz passed (certification)",
    "deal.submitted": "Deal registered",
    "deal.status_changed": "Deal approved, rejected or lost",
    "deal.won": "Deal won",
    "mdf.requested": "MDF request submitted",
    "mdf.claimed": "MDF claim submitted",
    "mdf.status_changed": "MDF request decided or paid",
    "usage.threshold_crossed": "Usage or spend alert",
    "usage.anomaly": "Unusual daily usage",
    "contract_change.pending": "Contract change awaiting approval",
    "contract_change.approved": "Contract change approved",
    "contract_change.rejected": "Contract change rejected",
    "billing.recommendation": "A cheaper plan or commitment",
}

# Events a webhook endpoint can subscribe to ("*" subscribes to all of them, new ones included).
# `ping` is not subscribable: it is sent on request, to one endpoint.
WEBHOOK_EVENT_TYPES: dict[str, str] = {
    "usage.threshold_crossed": "A usage or spend alert fired",
    "invoice.finalized": "An invoice was finalized",
    "commission.statement_approved": "A commission statement was approved",
    "deal.status_changed": "A deal registration was approved, rejected, lost or won",
    "subscription.changed": "A subscription's plan or commitment changed (made, or approved)",
}
ALL_EVENTS = "*"
PING = "ping"


def kind_label(kind: str) -> str:
    return NOTIFICATION_KINDS.get(kind, kind)
