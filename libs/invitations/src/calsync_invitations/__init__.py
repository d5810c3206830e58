"""Meeting invitations without I/O: templates, iTIP iCalendar, MIME."""
