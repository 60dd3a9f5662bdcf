"""Community Q&A: spaces, topics, replies, votes, reputation ledger, trust levels, badges, moderation."""
