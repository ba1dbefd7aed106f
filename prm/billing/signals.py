"""Signals billing sends; billing never imports the apps that listen (incentives, operations).

invoice_corrected: a finalized invoice was corrected, sent once the correction is committed.
    invoice       the Invoice (void, or finalized with a new credit note)
    credit_note   the CreditNote issued, or None when the invoice was voided
The operations app connects it to the commission clawback (operations/commissions.py).
"""

import django.dispatch

invoice_corrected = django.dispatch.Signal()
