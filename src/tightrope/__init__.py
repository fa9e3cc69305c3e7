"""tightrope: change a remote box's network without locking yourself out."""

__version__ = "0.1.0"
