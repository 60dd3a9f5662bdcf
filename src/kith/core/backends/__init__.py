"""Database backends Kith runs on: Django's own, with what Kith needs added."""
