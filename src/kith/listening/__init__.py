"""Listening: sources, mentions, the enrichment pipeline (language, sentiment, topics), the engagement queue."""
