"""Converters from public data formats into the project's trajectory records."""
