"""tightrope's D-Bus client: blocking, on one Unix socket, over the wire format of wire.py.

Why not a D-Bus library: on a small box (a Pi, or the lab's emulated one) importing asyncio
and dbus-fast cost 0.6-0.7 s, three times what `nmcli device status` takes to answer, and
as much again on the way to every change (its runner). Nothing here needs an event loop: a
call is sent and its reply read; signals that come meanwhile wait for next_signal.

The calls are also offered as coroutines that never suspend, so the reader's and writer's
code reads as async work over a connection and `drive` runs it to its end without a loop.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tightrope.errors import BackendUnavailable, TightropeError
from tightrope.nm import constants as c
from tightrope.nm import wire
from tightrope.nm.errors import NMError, error_text, reply_error, what_of
from tightrope.nm.marshal import method_call

T = TypeVar("T")

SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"
DEFAULT_TIMEOUT_S = 30.0
_DBUS = "org.freedesktop.DBus"
_CHUNK = 1 << 16


def _log(message: str, *args: object) -> None:
    # -v logs the calls; logging itself is imported only then (it costs a small box 0.1 s).
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("tightrope").info(message, *args)


def _why(exc: BaseException) -> str:
    return f": {exc}" if str(exc) else ""


def socket_path(address: str) -> str:
    """The Unix socket of a D-Bus address such as unix:path=/run/dbus/system_bus_socket
    (several addresses separated by ';': the first Unix one; abstract sockets as '\\0name')."""
    for one in address.split(";"):
        kind, _, params = one.partition(":")
        if kind != "unix":
            continue
        fields = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        if "path" in fields:
            return _unescape(fields["path"])
        if "abstract" in fields:
            return "\0" + _unescape(fields["abstract"])
    raise OSError(f"no Unix socket in the D-Bus address {address!r}")


def _unescape(value: str) -> str:
    # D-Bus addresses escape bytes as %XX.
    out = bytearray()
    raw, i = value.encode(), 0
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw):  # %
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode()


@dataclass(frozen=True)
class Call:
    """One method call, as call_all sends it."""

    path: str
    interface: str
    member: str
    signature: str = ""
    body: Sequence[Any] = ()
    destination: str = c.BUS_NAME


class LeanBus:
    """One blocking connection to the bus, addressed at NetworkManager (reads only)."""

    def __init__(self, sock: socket.socket, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._sock = sock
        self._buf = bytearray()
        self._serial = 0
        self.timeout_s = timeout_s
        # Signals that came while a reply was awaited, each with when it came: next_signal
        # hands them out first, in order.
        self._signals: deque[tuple[wire.Message, float]] = deque()

    def close(self) -> None:
        self._sock.close()

    def interrupt(self) -> None:
        """Wake a thread blocked reading this connection (it sees the connection end)."""
        with contextlib.suppress(OSError):  # closed already
            self._sock.shutdown(socket.SHUT_RDWR)

    def next_signal(self) -> tuple[wire.Message, float]:
        """The next signal (subscribed with AddMatch) and time.monotonic() when it came;
        blocks until one comes. BackendUnavailable when the connection ends."""
        while not self._signals:
            try:
                message = self._read(None)
            except (OSError, EOFError) as exc:
                raise BackendUnavailable(f"the D-Bus connection was lost{_why(exc)}") from exc
            if message is not None and message.type == wire.SIGNAL:
                self._signals.append((message, time.monotonic()))
        return self._signals.popleft()

    def call_now(
        self,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
        *,
        destination: str = c.BUS_NAME,
        timeout_s: float | None = None,
    ) -> list[Any]:
        """The reply's body, plain values (no Variants; byte arrays as bytes)."""
        (result,) = self.call_all([Call(path, interface, member, signature, body, destination)],
                                  timeout_s=timeout_s)  # fmt: skip
        if isinstance(result, BaseException):
            raise result
        return result

    def call_all(
        self, calls: Sequence[Call], *, timeout_s: float | None = None
    ) -> list[list[Any] | TightropeError]:
        """Every call sent at once, then every reply read (in the calls' order, an error in
        place of a call's body where it failed): one round trip to NetworkManager instead
        of one each, which a small box feels when a look reads every profile. A lost
        connection raises, since no later call could get through either."""
        sent: dict[int, int] = {}  # serial -> index in calls
        # What a call that gets no answer before the deadline comes back as.
        results: list[list[Any] | TightropeError] = [
            NMError(f"{what_of(call.interface, call.member)}: NetworkManager did not answer "
                    "in time") for call in calls]  # fmt: skip
        out = bytearray()
        for i, call in enumerate(calls):
            # -v names the call, never its arguments: a profile's settings hold its PSK.
            _log("D-Bus: %s %s.%s", call.path, call.interface, call.member)
            self._serial += 1
            sent[self._serial] = i
            out += method_call(self._serial, destination=call.destination,
                               path=call.path, interface=call.interface,
                               member=call.member, signature=call.signature,
                               body=call.body)  # fmt: skip
        wait = timeout_s or self.timeout_s
        deadline = time.monotonic() + wait
        what = what_of(calls[0].interface, calls[0].member) if calls else ""
        try:
            self._sock.settimeout(wait)  # not what is left of the last call's wait
            self._sock.sendall(out)
            while sent:
                reply = self._read(deadline)
                if reply is None:
                    break
                i_or_none = sent.pop(reply.reply_serial or 0, None)
                if i_or_none is None:
                    if reply.type == wire.SIGNAL:
                        self._signals.append((reply, time.monotonic()))
                    continue  # or the answer to a call given up on
                call = calls[i_or_none]
                if reply.type == wire.ERROR:
                    results[i_or_none] = reply_error(
                        call.path, what_of(call.interface, call.member),
                        reply.error_name or "", error_text(reply.body))  # fmt: skip
                else:
                    results[i_or_none] = list(reply.body)
        except (OSError, EOFError) as exc:
            raise BackendUnavailable(f"lost the D-Bus connection during {what}{_why(exc)}") from exc
        return results

    def _read(self, deadline: float | None) -> wire.Message | None:
        """The next message; None when the deadline passes first (never, without one).
        EOFError when the connection ends."""
        while True:
            try:
                message, used = wire.parse(self._buf)
            except wire.WireError as exc:
                raise BackendUnavailable(f"D-Bus sent what is not D-Bus: {exc}") from exc
            if message is not None:
                del self._buf[:used]
                return message
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._sock.settimeout(left)
            else:
                self._sock.settimeout(None)
            try:
                chunk = self._sock.recv(_CHUNK)
            except TimeoutError:
                return None
            if not chunk:
                raise EOFError()
            self._buf += chunk

    # The calls as coroutines that complete without ever suspending.

    async def call(
        self,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
        *,
        destination: str = c.BUS_NAME,
        timeout_s: float | None = None,
    ) -> list[Any]:
        return self.call_now(path, interface, member, signature, body,
                             destination=destination, timeout_s=timeout_s)  # fmt: skip

    async def get_all(self, path: str, interface: str) -> dict[str, Any]:
        (values,) = self.call_now(path, c.IFACE_PROPERTIES, "GetAll", "s", [interface])
        return {str(k): v for k, v in values.items()}

    async def get(self, path: str, interface: str, name: str) -> Any:
        (value,) = self.call_now(path, c.IFACE_PROPERTIES, "Get", "ss", [interface, name])
        return value

    async def managed_objects(self) -> dict[str, dict[str, dict[str, Any]]]:
        (objects,) = self.call_now(
            c.OBJECT_MANAGER_PATH, c.IFACE_OBJECT_MANAGER, "GetManagedObjects"
        )
        return dict(objects)

    async def nm_pid(self) -> int | None:
        try:
            (pid,) = self.call_now(f"/{_DBUS.replace('.', '/')}", _DBUS,
                                   "GetConnectionUnixProcessID", "s", [c.BUS_NAME],
                                   destination=_DBUS)  # fmt: skip
        except (NMError, BackendUnavailable):
            return None
        return int(pid)

    async def pause(self, seconds: float) -> None:
        time.sleep(seconds)


def connect(bus_address: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> LeanBus:
    address = bus_address or os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS
    where = bus_address or "the system bus"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(socket_path(address))  # OSError: not there, or no Unix socket named
        # SASL EXTERNAL: the bus knows us by the socket's credentials; we name our uid.
        sock.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
        answer = b""
        while not answer.endswith(b"\r\n") and len(answer) < 512:
            chunk = sock.recv(512)
            if not chunk:
                break
            answer += chunk
        if not answer.startswith(b"OK "):
            raise BackendUnavailable(f"D-Bus at {where} refused us: {answer[:80]!r}")
        sock.sendall(b"BEGIN\r\n")
        bus = LeanBus(sock, timeout_s)
        bus.call_now(f"/{_DBUS.replace('.', '/')}", _DBUS, "Hello", destination=_DBUS)
    except TimeoutError as exc:
        sock.close()
        raise BackendUnavailable(f"D-Bus at {where} did not answer") from exc
    except OSError as exc:
        sock.close()
        raise BackendUnavailable(f"cannot connect to D-Bus at {where}: {exc}") from exc
    except BaseException:
        sock.close()
        raise
    return bus


def drive(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (LeanBus's work) to its end, without a loop."""
    try:
        work.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    work.close()
    raise RuntimeError("blocking D-Bus work awaited something that needs an event loop")


def run_lean(
    work: Callable[[LeanBus], Coroutine[Any, Any, T]],
    bus_address: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> T:
    """Some D-Bus work on a fresh connection, run to its end without an event loop."""
    bus = connect(bus_address, timeout_s)
    try:
        return drive(work(bus))
    finally:
        bus.close()
