"""Command line: parsing, consent, rendering. The only layer that prints."""
