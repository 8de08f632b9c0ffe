"""An event as an iCalendar (.ics) file, for people to add to their own calendars."""

from __future__ import annotations

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from crm.core.db import utcnow
from crm.events.models import Event


def ics_for(event: Event, url: str, domain: str = "west-crm") -> bytes:
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
    location = ", ".join(part for part in (event.venue, event.online_url) if part)
    if location:
        entry.add("location", location)
    description = "\n\n".join(part for part in (event.description, url) if part)
    if description:
        entry.add("description", description)
    entry.add("url", url)
    calendar.add_component(entry)
    calendar.add_missing_timezones()  # VTIMEZONE blocks for the TZIDs used
    return calendar.to_ical()
