from prm.customers.models import ContractPolicy


def can_create_customers(user) -> bool:
    """Managers create customers for any partner, partner admins for their own partner."""
    return user.is_authenticated and (user.is_manager or user.is_partner_admin)


def can_edit_customer(user, customer) -> bool:
    if user.is_manager:
        return True
    return user.is_partner_admin and customer.reseller_id == user.partner.pk


def is_customer_admin_of(user, customer_id) -> bool:
    return user.is_authenticated and user.is_customer_admin and user.customer.pk == customer_id


def can_change_subscription(user, subscription, policy: ContractPolicy | None = None) -> bool:
    """Plan and commitment changes: managers, the customer's partner admin, and the customer's own
    admins when the program's contract rules let customers serve themselves.

    Partner reps follow `can_edit_customer`: they look after their customers but change nothing of
    their contracts (their partner admin does); customer viewers only look.
    """
    if can_edit_customer(user, subscription.customer):
        return True
    if is_customer_admin_of(user, subscription.customer_id):
        return (policy or ContractPolicy.current()).customer_self_service
    return False


def can_end_subscription(user, subscription) -> bool:
    """Ending a subscription stays with managers and the customer's partner admin."""
    return can_edit_customer(user, subscription.customer)


def can_decide_changes(user) -> bool:
    """Approving or rejecting a change is the vendor's: a customer or partner never decides its own."""
    return user.is_authenticated and user.is_manager
