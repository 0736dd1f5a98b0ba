"""What a user's role allows, beyond reading its region (which every query enforces).

A county reviewer accepts for its county, a city reviewer for its city; an administrator (of the province)
for the province and, standing in, for any division; a viewer only reads. Whether the acceptance itself is
possible (the month has ended, the divisions below have accepted, the month is not locked) is for
vte.review.approval to decide.
"""

from __future__ import annotations

from vte.console.users import User
from vte.review.approval import Unit

REVIEWERS = ("county_reviewer", "city_reviewer")


def may_review(user: User, unit: Unit) -> bool:
    return user.role == "admin" or (user.role in REVIEWERS and unit.region_code == user.region_code)


def may_open_exception(user: User) -> bool:
    return user.role == "admin"


def may_handle_alerts(user: User) -> bool:
    return user.role != "viewer"
