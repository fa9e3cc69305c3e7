"""NetworkManager's reasons for a Wi-Fi device failing, in the admin's words. Pure.

Apart from verify.py because `status` names them too, and must not pay for verification's
classes at a start-up meant to be as quick as nmcli's.
"""

from __future__ import annotations

# Device state reasons that mean "this will not get better by waiting", in the admin's words.
WIFI_FATAL_REASONS = {
    "no-secrets": "the Wi-Fi passphrase (PSK) was refused: check it",
    "supplicant-failed": "the Wi-Fi authentication failed: check the PSK",
    "supplicant-config-failed": "wpa_supplicant refused the Wi-Fi settings",
    "ssid-not-found": "the SSID was not found: check its spelling and that the AP is in range",
}
WIFI_SLOW_REASONS = {
    "supplicant-disconnect": "the access point dropped the association (a wrong PSK looks "
    "like this)",
    "supplicant-timeout": "the Wi-Fi association timed out (a wrong PSK or a distant AP)",
}
