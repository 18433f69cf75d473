"""The single source of tinycnn's version number."""

__version__ = "0.1.0"
