"""A minimal QMP client: one short connection per command, so any process (a test, the CLI
run after `lab up`) can drive a running QEMU through its socket."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from tightrope.errors import LabError


class QMP:
    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run one QMP command and return its "return" value; errors become LabError."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.path))
                stream = sock.makefile("rwb")
                self._reply(stream)  # greeting
                self._send(stream, "qmp_capabilities", None)
                self._reply(stream)
                self._send(stream, command, arguments)
                return self._reply(stream)
        except OSError as exc:
            raise LabError(f"QMP {command} on {self.path}: {exc}") from exc

    def hmp(self, line: str) -> str:
        """A human-monitor command (savevm/loadvm have no QMP equivalent in QEMU 7.2)."""
        out = self.execute("human-monitor-command", {"command-line": line})
        text = str(out)
        # HMP reports failures as text, not as a QMP error.
        if "Error" in text or "error" in text.lower().split(":", 1)[0]:
            raise LabError(f"HMP {line!r}: {text.strip()}")
        return text

    def wait_ready(self, deadline: float) -> None:
        while True:
            try:
                self.execute("query-status")
                return
            except LabError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @staticmethod
    def _send(stream: Any, command: str, arguments: dict[str, Any] | None) -> None:
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        stream.write(json.dumps(msg).encode() + b"\n")
        stream.flush()

    @staticmethod
    def _reply(stream: Any) -> Any:
        while True:
            line = stream.readline()
            if not line:
                raise LabError("QMP connection closed")
            msg = json.loads(line)
            if "event" in msg:
                continue
            if "error" in msg:
                raise LabError(f"QMP error: {msg['error'].get('desc', msg['error'])}")
            if "QMP" in msg:
                return msg["QMP"]
            return msg.get("return")
