"""`tcp-client` in Python: connect once, then send each message as a line and
read its reply as a line.

The Python twin of `guest/tcp-client/src/lib.rs`, step for step. It follows
the seed notes' TCP client: `socket(SOCK_STREAM)`, `connect`, then `sendall`
and `recv` for each message on the one connection. This CPython has no
`socket` module; every step is a `wasi:sockets` call through the bindings
componentize-py generates from `wit/` (the `wit_world` package).

TCP carries bytes, not messages, so a reply is framed as a line: every byte
up to and including the next `\\n`, or up to the server closing the
connection (`closed`), or what arrived before the timeout (`timed-out`).
One `recv` is never taken to be one message: bytes that arrive after a `\\n`
are kept for the next reply.
"""

from contextlib import ExitStack

from componentize_py_types import Err
from socklab_guest import addr_text, debug, failed, family_of, finish, wait_until
from wit_world import exports
from wit_world.imports import monotonic_clock
from wit_world.imports.instance_network import instance_network
from wit_world.imports.streams import InputStream, OutputStream, StreamError_Closed
from wit_world.imports.tcp_create_socket import create_tcp_socket
from wit_world.imports.types import (
    ClientConfig,
    ClientReport,
    Exchange,
    Reply,
    Reply_Closed,
    Reply_Complete,
    Reply_SendFailed,
    Reply_TimedOut,
)

# The most bytes taken from the stream in one `read` (one `recv`).
READ_SIZE = 64 * 1024


class TcpClientRole(exports.TcpClientRole):
    def run(self, config: ClientConfig) -> ClientReport:
        # Resources are closed in reverse order on the way out: streams,
        # then the socket, then the network handle.
        with ExitStack() as held:
            network = held.enter_context(instance_network())

            # client_sock = socket.socket(AF_INET, SOCK_STREAM)
            try:
                socket = held.enter_context(create_tcp_socket(family_of(config.server)))
            except Err as e:
                raise Err(failed("create-tcp-socket", e))
            # client_sock.connect((host, port))
            try:
                socket.start_connect(network, config.server)
                input_stream, output_stream = finish(socket, socket.finish_connect)
            except Err as e:
                raise Err(failed(f"connect to {addr_text(config.server)}", e))
            held.enter_context(input_stream)
            held.enter_context(output_stream)
            debug(f"connected to {addr_text(config.server)}")

            lines = LineReader(input_stream)
            exchanges = []
            for message in config.messages:
                framed = bytes(message) + b"\n"
                start = monotonic_clock.now()
                # client_sock.sendall(message + b'\n')
                try:
                    write_all(output_stream, framed)
                except Err as e:
                    exchanges.append(
                        Exchange(
                            bytes_sent=0,
                            reply=Reply_SendFailed(stream_error_text(e)),
                            rtt_ns=elapsed_ns(start),
                        )
                    )
                    continue
                # reply = client_sock.recv(...) until b'\n', close or timeout
                deadline = monotonic_clock.now() + config.reply_timeout_ms * 1_000_000
                reply = lines.next_line(deadline)
                exchanges.append(
                    Exchange(bytes_sent=len(framed), reply=reply, rtt_ns=elapsed_ns(start))
                )
            return ClientReport(exchanges=exchanges)


class LineReader:
    """Reads line-framed replies from a byte stream."""

    def __init__(self, stream: InputStream):
        self.input = stream
        # Bytes received but not yet handed out: the start of the next reply.
        self.buffered = b""
        # The server closed its side (`recv` returned `b''`).
        self.closed = False

    def next_line(self, deadline: int) -> Reply:
        """The next reply: up to and including `\\n`, or all that came before
        the close or `deadline` (an instant of the monotonic clock)."""
        with self.input.subscribe() as readable, monotonic_clock.subscribe_instant(
            deadline
        ) as timer:
            while True:
                end = self.buffered.find(b"\n")
                if end >= 0:
                    line, self.buffered = self.buffered[: end + 1], self.buffered[end + 1 :]
                    return Reply_Complete(line)
                if self.closed:
                    return Reply_Closed(self.take())
                # select([client_sock], [], [], timeout)
                if not wait_until(readable, timer):
                    return Reply_TimedOut(self.take())
                # chunk = client_sock.recv(READ_SIZE)
                try:
                    self.buffered += self.input.read(READ_SIZE)
                except Err as e:
                    if not isinstance(e.value, StreamError_Closed):
                        debug(f"recv: {stream_error_text(e)}")
                    self.closed = True

    def take(self) -> bytes:
        """Everything buffered, leaving nothing."""
        taken, self.buffered = self.buffered, b""
        return taken


def write_all(output: OutputStream, data: bytes) -> None:
    """Write all of `data`, waiting for the stream to accept more as needed.

    Equivalent to `sendall`: a loop of `send` calls, each as large as the
    stream permits (`check-write`), waiting on the stream's pollable when it
    permits nothing. Raises `Err(stream-error)`.
    """
    with output.subscribe() as ready:
        while data:
            permit = output.check_write()
            if permit == 0:
                ready.block()
                continue
            # client_sock.send(data[:permit])
            output.write(data[:permit])
            data = data[permit:]


def stream_error_text(err: Err) -> str:
    """A `stream-error` as text for a report: `closed`, or the error's debug
    text."""
    if isinstance(err.value, StreamError_Closed):
        return "closed"
    with err.value.value as error:  # last-operation-failed(error)
        return error.to_debug_string()


def elapsed_ns(start: int) -> int:
    """Nanoseconds elapsed since `start` on the monotonic clock."""
    return max(0, monotonic_clock.now() - start)
