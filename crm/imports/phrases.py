"""Counts, lists, sizes and record names as the import pages and the command line say them:
"1 row", "4 contacts, 1 pledge and 2 tasks", "5.5 MB"; never "1 rows" or "4 in contact"."""

from __future__ import annotations

# Tables as a person would name their rows: (one, many).
RECORD_NAMES: dict[str, tuple[str, str]] = {
    "contact": ("contact", "contacts"),
    "organization": ("organization", "organizations"),
    "participation": ("event participant", "event participants"),
    "endorsement": ("endorsement", "endorsements"),
    "pledge": ("pledge", "pledges"),
    "pledge_reminder": ("pledge reminder", "pledge reminders"),
    "progress_report": ("progress report", "progress reports"),
    "user": ("user account", "user accounts"),
    "champion": ("champion profile", "champion profiles"),
    "engagement": ("engagement", "engagements"),
    "engagement_contact": ("engagement", "engagements"),
    "response": ("consultation response", "consultation responses"),
    "topic_opt_out": ("email topic opt-out", "email topic opt-outs"),
    "outbox_message": ("campaign email", "campaign emails"),
    "case_study_organization": ("case study", "case studies"),
    "task": ("task", "tasks"),
}


def counted(n: int, one: str, many: str | None = None) -> str:
    """'1 row', '1,200 rows'."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def records(n: int, table: str) -> str:
    """'1 contact', '3 event participants': `n` rows of `table`, by their everyday name."""
    one, many = RECORD_NAMES.get(table, (table.replace("_", " "), table.replace("_", " ") + "s"))
    return counted(n, one, many)


def singular(plural: str) -> str:
    """'organizations' -> 'organization', for names kept in the plural."""
    for one, many in RECORD_NAMES.values():
        if many == plural:
            return one
    return plural.removesuffix("s")


def listed(parts: list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or 'a, b or c')."""
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} {last} {parts[-1]}"


def megabytes(size: int) -> str:
    """20971520 -> '20 MB', 5767168 -> '5.5 MB' (in MiB, as the limits are set)."""
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 10 or value == int(value) else f"{value:.1f} MB"
