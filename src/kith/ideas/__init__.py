"""Idea portal: co-creation with customers (ideas, votes, status workflow, merges, credit)."""
