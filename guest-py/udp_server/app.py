"""`udp-echo-server` in Python: a UDP server that answers each datagram to
its sender.

The Python twin of `guest/udp-echo-server/src/lib.rs`, step for step. It
follows the seed notes' UDP server: `socket(SOCK_DGRAM)`, `bind`, then
`recvfrom` and `sendto` the same bytes back to the address they came from.
There is no `listen` and no `accept`: each datagram stands alone, and each
one answered is a session. This CPython has no `socket` module; every step
is a `wasi:sockets` call through the bindings componentize-py generates from
`wit/` (the `wit_world` package).

It waits on its socket and on the host's stop signal together, so it stops
as soon as the host asks.
"""

from contextlib import ExitStack

from componentize_py_types import Err
from socklab_guest import addr_text, debug, failed, family_of, finish
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.instance_network import instance_network
from wit_world.imports.network import ErrorCode, IpSocketAddress
from wit_world.imports.poll import poll
from wit_world.imports.types import ServerConfig, ServerReport
from wit_world.imports.udp import OutgoingDatagram, OutgoingDatagramStream
from wit_world.imports.udp_create_socket import create_udp_socket

# The most datagrams taken from the socket in one `receive` call.
BATCH = 64


class UdpServerRole(exports.UdpServerRole):
    def serve(self, config: ServerConfig) -> ServerReport:
        # Resources are closed in reverse order on the way out: pollables,
        # then streams, then the socket, then the network handle.
        with ExitStack() as held:
            network = held.enter_context(instance_network())

            # server_sock = socket.socket(AF_INET, SOCK_DGRAM)
            try:
                socket = held.enter_context(create_udp_socket(family_of(config.listen)))
            except Err as e:
                raise Err(failed("create-udp-socket", e))
            # server_sock.bind((host, port))
            try:
                socket.start_bind(network, config.listen)
                finish(socket, socket.finish_bind)
            except Err as e:
                raise Err(failed(f"bind {addr_text(config.listen)}", e))
            # server_sock.getsockname()
            try:
                local = socket.local_address()
            except Err as e:
                raise Err(failed("local-address", e))
            # No remote address: the streams take datagrams from anyone and
            # send to whoever each datagram names, like recvfrom/sendto.
            try:
                incoming, outgoing = socket.stream(None)
            except Err as e:
                raise Err(failed("stream", e))
            held.enter_context(incoming)
            held.enter_context(outgoing)
            # Take the stop signal before announcing the address, so the host
            # knows from the start that this server stops by itself.
            stop = held.enter_context(host.stop_requested())
            host.listening(local)

            report = ServerReport(sessions=0, bytes_in=0, bytes_out=0)
            readable = held.enter_context(incoming.subscribe())
            while True:
                if config.max_sessions is not None and report.sessions >= config.max_sessions:
                    break
                # select([server_sock, stop], [], [])
                if 0 in poll([stop, readable]):
                    debug("stop requested")
                    break
                # (message, (client_host, client_port)) = server_sock.recvfrom(...)
                budget = BATCH
                if config.max_sessions is not None:
                    budget = min(config.max_sessions - report.sessions, BATCH)
                try:
                    datagrams = incoming.receive(budget)
                except Err as e:
                    raise Err(failed("receive", e))
                for datagram in datagrams:
                    sender = datagram.remote_address
                    report.bytes_in += len(datagram.data)
                    # server_sock.sendto(message, (client_host, client_port))
                    try:
                        report.bytes_out += send_to(outgoing, datagram.data, sender)
                        report.sessions += 1
                    except Err as e:
                        debug(failed(f"sendto {addr_text(sender)}", e))
            return report


def send_to(outgoing: OutgoingDatagramStream, data: bytes, to: IpSocketAddress) -> int:
    """`sendto(data, to)`: wait until the stream accepts a datagram
    (`check-send`), then `send` it. Returns the bytes sent; raises
    `Err(error-code)`."""
    with outgoing.subscribe() as ready:
        while outgoing.check_send() == 0:
            ready.block()
    # `send` returns how many datagrams it took: 0 means the stream had no
    # room after all, which `check-send` promised against.
    if outgoing.send([OutgoingDatagram(data=data, remote_address=to)]) != 1:
        raise Err(ErrorCode.WOULD_BLOCK)
    return len(data)
