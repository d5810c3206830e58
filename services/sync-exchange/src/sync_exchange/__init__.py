"""sync-exchange: two-way sync between CRM meetings and exchange calendars."""
