"""sync-caldav: two-way sync between CRM meetings and caldav calendars."""
