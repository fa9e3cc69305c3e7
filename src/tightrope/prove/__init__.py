"""Prove it: the failover drill and the live event view (they act on the box)."""
