"""Kith: an open-source Social CRM with people at the center."""

__version__ = "0.1.0"
