"""Customer-managed relationships: consent and receipts, proffered terms, intents and offers, preferences, transparency log, export, erasure."""
