def can_manage_enablement(user) -> bool:
    """Courses, quizzes and the resource library are the vendor's: channel managers write them."""
    return user.is_authenticated and user.is_manager


def can_take_courses(user) -> bool:
    """Partners' people read lessons and take quizzes (and earn certifications for their partner)."""
    return user.is_authenticated and user.is_partner_user


def can_see_enablement(user) -> bool:
    return can_manage_enablement(user) or can_take_courses(user)


def can_see_progress(user) -> bool:
    """Managers follow every partner's progress, a partner's admins their own people's."""
    return user.is_authenticated and (user.is_manager or user.is_partner_admin)
