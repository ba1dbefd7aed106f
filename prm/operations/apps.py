from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "prm.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self):
        from prm.billing.signals import invoice_corrected
        from prm.operations.commissions import commissions_follow_correction

        invoice_corrected.connect(commissions_follow_correction, dispatch_uid="operations.commissions_clawback")
