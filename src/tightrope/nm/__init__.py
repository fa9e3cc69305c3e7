"""The only package that imports the D-Bus library: NetworkManager adapter."""
