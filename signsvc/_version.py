"""The package version (a leaf, so the result store can record it without loading
the facade)."""

__version__ = "0.1.0"
