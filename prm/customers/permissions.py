def can_create_customers(user) -> bool:
    """Managers create customers for any partner, partner admins for their own partner."""
    return user.is_authenticated and (user.is_manager or user.is_partner_admin)


def can_edit_customer(user, customer) -> bool:
    if user.is_manager:
        return True
    return user.is_partner_admin and customer.reseller_id == user.partner.pk


def can_change_subscription(user, subscription) -> bool:
    """Plan and commitment changes: managers, and the customer's partner admin."""
    return can_edit_customer(user, subscription.customer)
