"""Remote mode: OpenSSH transport, zipapp shipping, following the box."""
