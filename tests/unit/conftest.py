"""Hypothesis without its per-example deadline: the unit tests share CI's two cores with the
VM lab (scripts/test runs two workers), so a slow example says nothing about the code, and a
test must fail for what it checks, never for the machine's load. derandomize keeps every run
the same examples."""

from hypothesis import settings

settings.register_profile("tightrope", deadline=None, derandomize=True)
settings.load_profile("tightrope")
