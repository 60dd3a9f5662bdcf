"""Service: cases, SLA policies on business-hour calendars, queues and assignment, e-mail to case, CSAT."""
