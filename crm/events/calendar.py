"""An event as an iCalendar (.ics) file, for people to add to their own calendars."""

from __future__ import annotations

from crm.core.db import utcnow
from crm.events.models import Event


def ics_for(event: Event, url: str, *, with_online_link: bool, domain: str = "west-crm") -> bytes:
    """The public file leaves the online link out: it is for registered people only."""
    # icalendar here, not at the top: it is needed only for a download, not at start-up.
    from icalendar import Calendar
    from icalendar import Event as CalendarEvent

    calendar = Calendar()
    calendar.add("prodid", "-//WEST Principles community//WEST Advocacy CRM//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"event-{event.id}@{domain}")
    entry.add("dtstamp", utcnow())
    entry.add("dtstart", event.local_start)  # with its TZID, so calendars show local time
    entry.add("dtend", event.local_end)
    entry.add("summary", event.name)
    online = event.online_url if with_online_link else None
    location = ", ".join(part for part in (event.venue, online) if part)
    if not location and event.online_url:
        location = "Online"
    if location:
        entry.add("location", location)
    description = "\n\n".join(part for part in (event.description, url) if part)
    if description:
        entry.add("description", description)
    entry.add("url", url)
    calendar.add_component(entry)
    calendar.add_missing_timezones()  # VTIMEZONE blocks for the TZIDs used
    return calendar.to_ical()
