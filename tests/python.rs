//! The Python guests (`guest-py/`, built with componentize-py) with the Rust
//! guests and with native `std::net` peers, all through the one `socklab`
//! binary cargo built: the host is the same for a guest in any language.
//!
//! `guest-py/build.sh` (which `.ci/run` calls) writes the components to
//! `$SOCKLAB_PY_GUEST_DIR`, or to `guest-py/` in the target directory. When
//! they are absent the tests fail if `CI` is set, and otherwise print
//! `SKIPPED <test>: ...` to stderr and pass: building them needs PyPI.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

use common::python::*;
use common::*;
use serde_json::Value;

/// Messages for the TCP client: ASCII, UTF-8, an empty line, and one of
/// 60 000 bytes, more than one write or one read carries.
fn tcp_messages() -> Vec<String> {
    let long: String = (0..60_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    vec![
        "hello".into(),
        "h\u{e9}llo w\u{f6}rld \u{2713}".into(),
        String::new(),
        long,
        "bye".into(),
    ]
}

/// `socklab exchange --server SERVER --client CLIENT --expect echo` with
/// `messages`, which must exit 0: what it printed, its report, and the
/// messages as bytes.
fn echo_exchange(
    server: &str,
    client: &str,
    messages: &[String],
) -> (Finished, Value, Vec<Vec<u8>>) {
    let args = [
        "exchange", "--server", server, "--client", client, "--expect", "echo", "--json",
    ];
    let out = socklab_with_messages(&args, messages);
    out.assert_code(0);
    let report = out.json();
    let sent = messages.iter().map(|m| m.clone().into_bytes()).collect();
    (out, report, sent)
}

/// `socklab ARGS... --message M...` run to the end.
fn socklab_with_messages(args: &[&str], messages: &[String]) -> Finished {
    let mut all: Vec<&str> = args.to_vec();
    for m in messages {
        all.extend(["--message", m]);
    }
    socklab(&all).finish()
}

#[test]
fn tcp_python_client_rust_echo_server_replies_byte_exact() {
    let Some(client) = py_guest(PY_TCP_CLIENT) else {
        return;
    };
    let messages = tcp_messages();
    let (out, report, sent) = echo_exchange("tcp-echo-server", &client, &messages);
    assert_replies(&report, &sent, framed);
    let records = client_messages(&report);
    for (m, sent) in records.iter().zip(&sent) {
        assert_eq!(
            m["bytes_sent"],
            sent.len() + 1,
            "the message and its \\n: {out}"
        );
        assert_eq!(m["ok"], true, "{out}");
    }
    let total: usize = sent.iter().map(|m| m.len() + 1).sum();
    let server = &report["runs"][0]["server"];
    assert_eq!(server["served"]["sessions"], 1, "one connection: {out}");
    assert_eq!(server["served"]["bytes_in"], total, "{out}");
    assert_eq!(report["runs"][0]["client"]["error"], Value::Null, "{out}");
}

/// A native server that answers each line of the Python client in a way
/// that tests its framing, and returns the lines it received.
fn framing_server(ip: IpAddr) -> (SocketAddr, Peer<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind(any_port(ip)).expect("binding a native TCP server");
    let addr = listener.local_addr().unwrap();
    let server = peer("the native framing server", move || {
        let (mut conn, _) = listener.accept().expect("accepting the Python client");
        conn.set_read_timeout(Some(WAIT)).unwrap();
        conn.set_nodelay(true).unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut lines = Vec::new();
        for _ in 0..5 {
            let mut line = Vec::new();
            reader.read_until(b'\n', &mut line).expect("reading a line");
            // The client sends the next message only once it has framed the
            // previous reply, so each answer below reaches it alone.
            match lines.len() {
                // Two replies in one write: the second one is `b`'s, kept
                // in the client's buffer, never read again from the socket.
                0 => conn.write_all(b"one\ntwo\n").unwrap(),
                1 => {}
                // One reply in two writes: one read is not one message.
                2 => {
                    conn.write_all(b"par").unwrap();
                    conn.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                    conn.write_all(b"tial\n").unwrap();
                }
                // No `\n`: the client times out with what came.
                3 => conn.write_all(b"no newline").unwrap(),
                // A last word and the close, the seed's server's way.
                _ => conn.write_all(b"bye").unwrap(),
            }
            lines.push(line);
        }
        lines
    });
    (addr, server)
}

#[test]
fn tcp_python_client_native_server_frames_lines_close_and_timeout() {
    let Some(client) = py_guest(PY_TCP_CLIENT) else {
        return;
    };
    let (addr, server) = framing_server(V4);
    let messages: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
    let to = addr.to_string();
    let args = [
        "connect",
        &client,
        "--to",
        &to,
        "--timeout-ms",
        "1000",
        "--json",
    ];
    let out = socklab_with_messages(&args, &messages);
    let received = server.join();
    assert_eq!(
        received,
        ["a\n", "b\n", "c\n", "d\n", "e\n"].map(|l| l.as_bytes().to_vec())
    );

    let report = out.json();
    let records = client_messages(&report);
    let got: Vec<(&str, Option<Vec<u8>>)> = records
        .iter()
        .map(|m| (m["status"].as_str().unwrap(), payload(&m["reply"])))
        .collect();
    let want: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("complete", Some(b"one\n".to_vec())),
        ("complete", Some(b"two\n".to_vec())),
        ("complete", Some(b"partial\n".to_vec())),
        ("timed-out", Some(b"no newline".to_vec())),
        ("closed", Some(b"bye".to_vec())),
    ];
    assert_eq!(got, want, "{out}");
    let ok: Vec<&Value> = records.iter().map(|m| &m["ok"]).collect();
    assert_eq!(
        ok,
        [true, true, true, false, true],
        "only a timeout fails: {out}"
    );
    out.assert_code(1);
    // The timeout is counted per reply: about a second, never the script's.
    let rtt = records[3]["rtt_us"].as_f64().unwrap();
    assert!((900_000.0..WAIT.as_micros() as f64).contains(&rtt), "{out}");
    assert_eq!(report["runs"][0]["client"]["error"], Value::Null, "{out}");
}

#[test]
fn tcp_python_client_denied_connect_is_its_error() {
    let Some(client) = py_guest(PY_TCP_CLIENT) else {
        return;
    };
    // A real listener, so that only the sandbox can refuse the connection.
    let listener = TcpListener::bind(any_port(V4)).unwrap();
    let to = listener.local_addr().unwrap().to_string();
    let deny = format!("tcp-connect={to}");
    let args = ["connect", &client, "--to", &to, "--deny", &deny, "--json"];
    let out = socklab_with_messages(&args, &["hello".into()]);
    out.assert_code(1);
    let report = out.json();
    let error = report["runs"][0]["client"]["error"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(error, format!("connect to {to}: access-denied"), "{out}");
}

#[test]
fn udp_rust_client_python_server_replies_byte_exact_and_stops_with_report() {
    let Some(server) = py_guest(PY_UDP_SERVER) else {
        return;
    };
    let messages: Vec<String> = ["hello", "h\u{e9}llo w\u{f6}rld \u{2713}", "", "bye"]
        .map(String::from)
        .to_vec();
    let (out, report, sent) = echo_exchange(&server, "udp-client", &messages);
    assert_replies(&report, &sent, <[u8]>::to_vec);
    // The host stopped the server through its stop pollable, so it
    // returned its report; a server it had to cancel would have none.
    let server = &report["runs"][0]["server"];
    assert_eq!(server["cancelled"], false, "{out}");
    assert_eq!(server["error"], Value::Null, "{out}");
    let total: usize = sent.iter().map(Vec::len).sum();
    assert_eq!(server["served"]["sessions"], sent.len(), "{out}");
    assert_eq!(server["served"]["bytes_in"], total, "{out}");
    assert_eq!(server["served"]["bytes_out"], total, "{out}");
}

/// `socklab serve` with the Python server on `ip` for as many datagrams as a
/// native client sends; the server stops by itself at `--max-sessions`.
fn python_server_native_client(ip: IpAddr) {
    let Some(server) = py_guest(PY_UDP_SERVER) else {
        return;
    };
    let datagrams = tricky_datagrams();
    let listen = any_port(ip).to_string();
    let max = datagrams.len().to_string();
    let args = [
        "serve",
        &server,
        "--listen",
        &listen,
        "--max-sessions",
        &max,
        "--json",
    ];
    let mut running = socklab(&args);
    let addr = running.listening_addr();
    assert_eq!(addr.ip(), ip, "it binds where it was told");

    let client = UdpSocket::bind(any_port(ip)).expect("binding a native UDP client");
    client.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = vec![0; 65536];
    for datagram in &datagrams {
        // client_sock.sendto(message, (host, port)), then recvfrom
        client.send_to(datagram, addr).unwrap();
        let (n, from) = client
            .recv_from(&mut buf)
            .expect("the Python server's reply");
        assert_eq!(from, addr, "the reply came from the server's address");
        assert_eq!(&buf[..n], &datagram[..], "the reply is the datagram");
    }

    let out = running.finish();
    out.assert_code(0);
    let report = out.json();
    let served = &report["runs"][0]["server"]["served"];
    let total: usize = datagrams.iter().map(Vec::len).sum();
    assert_eq!(served["sessions"], datagrams.len(), "{out}");
    assert_eq!(served["bytes_in"], total, "{out}");
    assert_eq!(served["bytes_out"], total, "{out}");
}

#[test]
fn udp_native_client_python_server_echoes_every_byte_ipv4() {
    python_server_native_client(V4);
}

#[test]
fn udp_native_client_python_server_echoes_every_byte_ipv6() {
    python_server_native_client(V6);
}

#[test]
fn udp_python_server_sigterm_stops_with_report() {
    let Some(server) = py_guest(PY_UDP_SERVER) else {
        return;
    };
    let (served, out) = serve_until_sigterm(&[&server], echo_three_datagrams);
    let report = out.json();
    let server = &report["runs"][0]["server"];
    assert_eq!(server["cancelled"], false, "it stopped itself: {out}");
    assert_eq!(served["sessions"], 3, "{out}");
    assert_eq!(served["bytes_in"], 11, "{out}");
}
