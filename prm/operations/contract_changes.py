"""Self-service contract changes: see what a plan or commitment change costs before confirming it.

    contract_change_preview(actor=customer_admin, subscription=sub, kind="commitment",
                            commitment=Decimal("1000"))

1. customers checks the change exactly as making it would (`subscription_change_propose`: who may
   change what, the billing rules, the program's contract rules) and says when it would take
   effect and whether it waits for a channel manager's approval — nothing is written;
2. billing prices it (`change_impact`): the open period projected to its end and a full period at
   last period's usage, as is and with the change, line by line.

Confirming is the change itself (`subscription_change_plan` / `_commitment`), which checks again:
the preview is a promise about the figures, not a reservation. The flow lives here because
customers may not import billing.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from prm.billing.price_impact import PriceImpact, change_impact
from prm.core.money import plain_decimal
from prm.customers.models import ChangeKind, Subscription
from prm.customers.services import ChangeProposal, subscription_change_propose


@dataclass(frozen=True)
class ContractChangePreview:
    proposal: ChangeProposal
    impact: PriceImpact

    def as_dict(self) -> dict:
        proposal = self.proposal

        def terms(version, commitment: Decimal | None) -> dict:
            return {
                "plan": {"code": version.plan.code, "version": version.version},
                "commitment": None if commitment is None else plain_decimal(commitment),
            }

        return {
            "subscription": proposal.subscription.external_id,
            "kind": proposal.kind,
            "summary": proposal.summary,
            "effective_at": proposal.effective_at.isoformat(),
            "reduction": proposal.reduction,
            "approval_required": proposal.approval_required,
            "from": terms(proposal.from_plan_version, proposal.from_commitment),
            "to": terms(proposal.to_plan_version, proposal.to_commitment),
            **self.impact.as_dict(),
        }


def contract_change_preview(
    *,
    actor,
    subscription: Subscription,
    kind: str,
    plan=None,
    commitment: Decimal | None = None,
    effective_at: datetime | None = None,
    as_of: datetime | None = None,
) -> ContractChangePreview:
    """The change as it would be made, and its price impact; raises what making it would
    (ValidationError naming the field, PermissionDenied)."""
    proposal = subscription_change_propose(
        actor=actor,
        subscription=subscription,
        kind=kind,
        plan=plan if kind == ChangeKind.PLAN else None,
        commitment=commitment,
        effective_at=effective_at,
    )
    return ContractChangePreview(proposal=proposal, impact=change_impact(proposal=proposal, as_of=as_of))
