"""Who may do what with a deal registration (scope is checked separately: an unseen deal is a 404)."""


def can_register(user) -> bool:
    """Partner admins and reps register the opportunities they work on."""
    return user.is_authenticated and user.is_partner_user


def can_decide(user) -> bool:
    return user.is_authenticated and user.is_manager


def can_convert(user, deal) -> bool:
    """Marking a deal won creates a customer: the deal's partner admin or a channel manager."""
    if user.is_manager:
        return True
    return user.is_partner_admin and user.partner.pk == deal.partner_id


def can_close_lost(user, deal) -> bool:
    if can_convert(user, deal):
        return True
    return user.is_partner_rep and deal.registered_by_id == user.pk


def can_refresh_proposal(user, deal) -> bool:
    """Whoever works the deal: managers, the partner's admins and the rep who registered it."""
    return can_close_lost(user, deal)
