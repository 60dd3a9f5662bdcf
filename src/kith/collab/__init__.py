"""Collaboration: feeds on every record, follows, @mentions, #topics, groups, notifications, live updates."""
