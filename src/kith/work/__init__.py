"""Work: activities on any record, meetings, and private iCalendar feeds."""
