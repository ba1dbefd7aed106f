"""Commissions follow billing's corrections at once: a credit note or a void takes back, as soon
as it is committed, what the invoice earned (incentives/accrual.py).

Billing cannot call incentives (it lies below it), so it sends `invoice_corrected` and this
module, connected in OperationsConfig.ready(), answers it. Should the clawback fail, the
correction stands (it is committed already) and the periodic `commissions_sync` catches up.
"""

import logging

from prm.incentives.accrual import clawback_credit_note, clawback_void

logger = logging.getLogger(__name__)


def commissions_follow_correction(sender, *, invoice, credit_note=None, **kwargs) -> None:
    try:
        if credit_note is not None:
            clawback_credit_note(credit_note)
        else:
            clawback_void(invoice)
    except Exception:
        # Not re-raised: the person who issued the correction gets their answer; the ledger is
        # brought up to date by commissions_sync (period close, periodic task).
        logger.exception("Commission clawback failed for invoice %s; commissions_sync will retry it", invoice.pk)
