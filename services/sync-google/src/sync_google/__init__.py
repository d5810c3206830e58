"""sync-google: two-way sync between CRM meetings and google calendars."""
