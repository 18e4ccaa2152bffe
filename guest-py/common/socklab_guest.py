"""What both Python guests share: the Python twin of `guest/common`.

Every function here works on the generated `wit_world` bindings of whichever
role world the guest is built for; it imports only the interfaces every
socklab world has (`wasi:io/poll`, `wasi:sockets/network`, `socklab:lab/host`),
so one copy serves the TCP client and the UDP server alike.

The helpers hide the two-phase `start-*`/`finish-*` dance and the
wait-for-room loop of a write, so that a guest reads as its list of BSD
socket steps (see `shared/seed-notes-tcp-vs-udp.md`).

Resources are closed with `with` (their `__exit__` drops the handle) rather
than left to the garbage collector: WASI refuses to drop a socket while a
stream or pollable made from it is still alive, so the order matters.
"""

import ipaddress

from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports.network import (
    ErrorCode,
    IpAddressFamily,
    IpSocketAddress,
    IpSocketAddress_Ipv4,
    IpSocketAddress_Ipv6,
)
from wit_world.imports.poll import Pollable, poll


def family_of(addr: IpSocketAddress) -> IpAddressFamily:
    """The address family of `addr`, for `create-tcp-socket` or
    `create-udp-socket` (the `AF_INET`/`AF_INET6` argument of `socket()`)."""
    if isinstance(addr, IpSocketAddress_Ipv4):
        return IpAddressFamily.IPV4
    return IpAddressFamily.IPV6


def addr_text(addr: IpSocketAddress) -> str:
    """`addr` as people write it: `127.0.0.1:80`, `[::1]:80`."""
    a = addr.value
    if isinstance(addr, IpSocketAddress_Ipv6):
        packed = b"".join(part.to_bytes(2, "big") for part in a.address)
        return f"[{ipaddress.IPv6Address(packed)}]:{a.port}"
    return ".".join(str(octet) for octet in a.address) + f":{a.port}"


def code_text(code: ErrorCode) -> str:
    """The error code as WIT spells it (`access-denied`), for reports."""
    return code.name.lower().replace("_", "-")


def failed(what: str, err: Err) -> str:
    """`what` followed by the error code carried by `err`, for the
    `result<_, string>` error of a role: `connect to 127.0.0.1:80:
    connection-refused`."""
    return f"{what}: {code_text(err.value)}"


def debug(message: str) -> None:
    """Log a detail the host shows only when asked for more (`-v`)."""
    host.log(host.Level.DEBUG, message)


def finish(socket, finish_call):
    """Call `finish_call` (a `finish-*` method of `socket`) until it stops
    raising `would-block`, waiting on the socket's pollable between tries.

    Together with the `start-*` call before it, this is one blocking BSD call:
    `start-bind` + `finish-bind` = `bind`, `start-connect` + `finish-connect`
    = `connect`.
    """
    with socket.subscribe() as ready:
        while True:
            try:
                return finish_call()
            except Err as e:
                if e.value != ErrorCode.WOULD_BLOCK:
                    raise
                ready.block()


def wait_until(ready: Pollable, deadline: Pollable) -> bool:
    """Block until `ready` or `deadline` is ready; `True` if `ready` is.

    Equivalent to `poll()`/`select()` on one descriptor with a timeout.
    """
    return 0 in poll([ready, deadline])

