"""Who may do what: the roles, and the one place that maps them to permissions.

Every view declares what it needs with `@requires(...)` (or `@public`); a test walks the URL map
and fails for any view that declares neither, and checks each role against each declaration.
Object-level rules (a representative sees only their organization) live next to the domain
that owns the object, in functions named `can_*`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import TypeVar

from flask import abort
from flask_login import current_user

from crm.extensions import login_manager

F = TypeVar("F", bound=Callable)


class Role(StrEnum):
    ADMIN = "admin"
    LEAD = "lead"
    VOLUNTEER = "volunteer"
    CHAMPION = "champion"
    ORG_REP = "org_rep"
    VIEWER = "viewer"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.LEAD: "Advocacy lead",
    Role.VOLUNTEER: "Working-group volunteer",
    Role.CHAMPION: "Champion",
    Role.ORG_REP: "Organization representative",
    Role.VIEWER: "Viewer (reports)",
}


class Permission(StrEnum):
    DASHBOARD = "dashboard"
    ORGANIZATIONS_VIEW = "organizations.view"
    ORGANIZATIONS_EDIT = "organizations.edit"
    ORGANIZATIONS_DELETE = "organizations.delete"
    CONTACTS_VIEW = "contacts.view"
    CONTACTS_EDIT = "contacts.edit"
    CONTACTS_DELETE = "contacts.delete"
    PERSONAL_DATA = "contacts.personal_data"  # export everything held, erase
    ENGAGEMENTS_VIEW = "engagements.view"
    ENGAGEMENTS_EDIT = "engagements.edit"
    CHAMPIONS_VIEW = "champions.view"
    CHAMPIONS_EDIT = "champions.edit"  # the pipeline: enter, move, profile, add endorsements
    ENDORSEMENTS_VERIFY = "endorsements.verify"
    OWN_CHAMPION_PROFILE = "champions.own"  # a champion's own profile and endorsements
    EVENTS_VIEW = "events.view"
    EVENTS_EDIT = "events.edit"  # events, participants, attendee exports
    EVENTS_CHECK_IN = "events.check_in"  # the door on the day
    STANDARDS_MANAGE = "standards.manage"  # versions and principle texts
    PLEDGES_VIEW = "pledges.view"
    PLEDGES_EDIT = "pledges.edit"  # confirm, withdraw, move to a new version, accept reports
    OWN_PLEDGE = "pledges.own"  # a representative's own organization's pledge and reports
    CAMPAIGNS_VIEW = "campaigns.view"
    CAMPAIGNS_EDIT = "campaigns.edit"  # segments, compose, send, schedule, cancel
    TASKS = "tasks"  # my tasks, working-group boards, adding and moving tasks
    WORKING_GROUPS_MANAGE = "working_groups.manage"  # groups and their members
    LIBRARY_VIEW = "library.view"  # the whole learning library
    LIBRARY_CONTRIBUTE = "library.contribute"  # add case studies; see one's own
    LIBRARY_REVIEW = "library.review"  # publish or send back contributions
    CONSULTATIONS_VIEW = "consultations.view"  # responses per principle and the summary
    CONSULTATIONS_FEEDBACK = "consultations.feedback"  # tag the themes of comments
    CONSULTATIONS_MANAGE = "consultations.manage"  # set up, draft texts, addressed, downloads
    REPORTS_VIEW = "reports.view"  # the quarterly adoption report and its downloads
    AUDIT_VIEW = "audit.view"
    IMPORTS = "imports"  # upload, map and run imports; undo them
    DUPLICATES_MERGE = "duplicates.merge"  # the duplicates page: merge or dismiss pairs
    USERS_MANAGE = "users.manage"
    JOBS = "jobs"  # the Jobs page: background work, its errors; retry and cancel
    WORKER_STATUS = "jobs.worker_status"  # told on the dashboard when no worker runs
    ACCOUNT = "account"  # own password and profile


_STAFF_READ = {
    Permission.DASHBOARD,
    Permission.ORGANIZATIONS_VIEW,
    Permission.CONTACTS_VIEW,
    Permission.ENGAGEMENTS_VIEW,
    Permission.CHAMPIONS_VIEW,
    Permission.EVENTS_VIEW,
    Permission.PLEDGES_VIEW,
    Permission.LIBRARY_VIEW,
    Permission.LIBRARY_CONTRIBUTE,
    Permission.REPORTS_VIEW,
    Permission.CAMPAIGNS_VIEW,
    Permission.CONSULTATIONS_VIEW,
    Permission.AUDIT_VIEW,
    Permission.ACCOUNT,
}

# Only a champion has a profile of their own to keep, only a representative a pledge.
_OWN_RECORDS = {Permission.OWN_CHAMPION_PROFILE, Permission.OWN_PLEDGE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(set(Permission) - _OWN_RECORDS),
    Role.LEAD: frozenset(
        set(Permission)
        - {Permission.USERS_MANAGE, Permission.STANDARDS_MANAGE, Permission.JOBS}
        - _OWN_RECORDS
    ),
    Role.VOLUNTEER: frozenset(
        _STAFF_READ
        | {
            Permission.ORGANIZATIONS_EDIT,
            Permission.CONTACTS_EDIT,
            Permission.ENGAGEMENTS_EDIT,
            Permission.EVENTS_CHECK_IN,
            Permission.TASKS,
            Permission.CONSULTATIONS_FEEDBACK,
        }
    ),
    # Board members and funders read the quarterly report, and nothing else.
    Role.VIEWER: frozenset({Permission.ACCOUNT, Permission.REPORTS_VIEW}),
    # Champions and representatives see only their own records (object-level checks in their
    # domains); in the staff area they have their account page.
    Role.CHAMPION: frozenset(
        {Permission.ACCOUNT, Permission.OWN_CHAMPION_PROFILE, Permission.LIBRARY_CONTRIBUTE}
    ),
    Role.ORG_REP: frozenset(
        {Permission.ACCOUNT, Permission.OWN_PLEDGE, Permission.LIBRARY_CONTRIBUTE}
    ),
}


def has_permission(user, permission: Permission) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return permission in ROLE_PERMISSIONS.get(user.role, frozenset())


def requires(permission: Permission) -> Callable[[F], F]:
    """Login plus a role permission; anonymous users go to login, others without it get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not has_permission(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Mark a view as open to anyone; the access test lists these as the public pages."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def permission_of(view: Callable) -> Permission | None:
    return getattr(view, "required_permission", None)


def is_public(view: Callable) -> bool:
    return getattr(view, "is_public", False)
