"""The VM lab: a throwaway Debian box with NetworkManager, bonding, Wi-Fi and SSH."""
