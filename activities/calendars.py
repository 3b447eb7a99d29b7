"""Calendar activities: resolving a ticket's calendar again for a later horizon."""

from __future__ import annotations

from temporalio import activity

from config.resolve import extended
from sla.calendar import Calendar, CalendarExtension


@activity.defn(name="extend_calendar")
def extend_calendar(request: CalendarExtension) -> Calendar:
    """Reads the holiday and time-zone tables of today's libraries: only ever as an activity."""
    return extended(request.calendar, request.around)
