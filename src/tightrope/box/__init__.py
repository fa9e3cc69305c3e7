"""The box-side application layer (see app.py) and the agent that serves it over SSH."""
