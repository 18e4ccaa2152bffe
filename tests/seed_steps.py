"""The seed notes' socket steps (shared/seed-notes-tcp-vs-udp.md), as a
native peer for socklab's guests in tests/tcp.rs and tests/udp.rs.

    seed_steps.py tcp-client HOST PORT MESSAGE   connect, sendall, recv
    seed_steps.py tcp-server HOST REPLY          bind, listen, accept, recv, sendall, close
    seed_steps.py udp-client HOST PORT MESSAGE   sendto, recvfrom
    seed_steps.py udp-server HOST REPLY          bind, recvfrom, sendto

A server prints `port N` once bound. Each prints what it received as
`received HEX` (a client: the reply; a server: the message). Every socket
has a timeout, so a test never waits for ever.
"""

import socket
import sys

TIMEOUT_S = 20


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def say(*words):
    print(*words, flush=True)


def tcp_client(host, port, message):
    client_sock = socket.socket(family(host), socket.SOCK_STREAM)
    client_sock.settimeout(TIMEOUT_S)
    client_sock.connect((host, int(port)))
    client_sock.sendall(message)
    # recv may return part of the reply: TCP carries bytes, not messages.
    reply = b""
    while len(reply) < len(message):
        chunk = client_sock.recv(1024)
        if not chunk:
            break
        reply += chunk
    client_sock.close()
    say("received", reply.hex())


def tcp_server(host, reply_message):
    server_sock = socket.socket(family(host), socket.SOCK_STREAM)
    server_sock.settimeout(TIMEOUT_S)
    server_sock.bind((host, 0))
    server_sock.listen(1)
    say("port", server_sock.getsockname()[1])
    conn, _peer = server_sock.accept()
    conn.settimeout(TIMEOUT_S)
    # The guest client frames each message as a line.
    message = b""
    while not message.endswith(b"\n"):
        chunk = conn.recv(1024)
        if not chunk:
            break
        message += chunk
    conn.sendall(reply_message)
    conn.close()
    server_sock.close()
    say("received", message.hex())


def udp_client(host, port, message):
    client_sock = socket.socket(family(host), socket.SOCK_DGRAM)
    client_sock.settimeout(TIMEOUT_S)
    client_sock.sendto(message, (host, int(port)))
    (reply, _addr) = client_sock.recvfrom(65536)
    say("received", reply.hex())


def udp_server(host, reply_message):
    server_sock = socket.socket(family(host), socket.SOCK_DGRAM)
    server_sock.settimeout(TIMEOUT_S)
    server_sock.bind((host, 0))
    say("port", server_sock.getsockname()[1])
    (message, client_addr) = server_sock.recvfrom(65536)
    server_sock.sendto(reply_message, client_addr)
    server_sock.close()
    say("received", message.hex())


def main(args):
    role, rest = args[0], args[1:]
    if role == "tcp-client":
        tcp_client(rest[0], rest[1], rest[2].encode())
    elif role == "tcp-server":
        tcp_server(rest[0], rest[1].encode())
    elif role == "udp-client":
        udp_client(rest[0], rest[1], rest[2].encode())
    elif role == "udp-server":
        udp_server(rest[0], rest[1].encode())
    else:
        sys.exit(f"unknown role {role}")


if __name__ == "__main__":
    main(sys.argv[1:])
