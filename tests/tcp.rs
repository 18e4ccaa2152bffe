//! TCP end to end: the guest client and the guest echo server with each
//! other, with native `std::net` peers on IPv4 and IPv6, with the seed notes'
//! Python steps, and under stress (50 clients at once, a server that writes
//! one byte at a time).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpStream};

use common::*;
use socklab::exchange::{self, start_server};
use socklab::report::{ExchangeRecord, Expect};
use socklab::roles::Transport;

/// Messages that must come back byte for byte: ASCII, UTF-8, bytes that are
/// not UTF-8, one larger than the echo server's 64 KiB read, and none at all.
fn tricky_messages() -> Vec<Vec<u8>> {
    let not_utf8: Vec<u8> = (0..=255u8).rev().filter(|&b| b != b'\n').collect();
    let large: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    vec![
        b"hello".to_vec(),
        "h\u{e9}llo w\u{f6}rld \u{2713}".into(),
        not_utf8,
        large,
        Vec::new(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_guest_server_replies_byte_exact() {
    let messages = tricky_messages();
    let server = server_spec("tcp-echo-server", any_port(V4), None);
    let client = client_spec("tcp-client", &messages, 10_000, Expect::Echo);
    let run = within("the exchange", exchange::exchange(&lab(), server, client)).await;
    let report = json_of(vec![run]);

    assert_replies(&report, &messages, framed);
    let records = client_messages(&report);
    assert!(records.iter().all(|m| m["ok"] == true), "{report:#}");
    assert_eq!(
        records[1]["reply"]["text"],
        "h\u{e9}llo w\u{f6}rld \u{2713}\n"
    );
    assert!(records[2]["reply"]["base64"].is_string(), "{report:#}");
    let framed_bytes: usize = messages.iter().map(|m| m.len() + 1).sum();
    let served = &report["runs"][0]["server"]["served"];
    assert_eq!(served["bytes_in"], framed_bytes, "{report:#}");
    assert_eq!(served["bytes_out"], framed_bytes, "{report:#}");
}

/// An exchange stops the server as soon as its client is done, maybe before
/// the server has seen the close: the session must still be in its report.
#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_guest_server_counts_its_session() {
    for attempt in 0..20 {
        let server = server_spec("tcp-echo-server", any_port(V4), None);
        let client = client_spec("tcp-client", &[b"hi".to_vec()], 5_000, Expect::Echo);
        let run = within("the exchange", exchange::exchange(&lab(), server, client)).await;
        let report = json_of(vec![run]);
        let served = &report["runs"][0]["server"]["served"];
        assert_eq!(served["sessions"], 1, "attempt {attempt}:\n{report:#}");
    }
}

/// The guest echo server on `ip`, one native client sending three lines.
async fn guest_server_native_client(ip: IpAddr) {
    let spec = server_spec("tcp-echo-server", any_port(ip), Some(1));
    let running = within("the server to listen", start_server(&lab(), spec))
        .await
        .unwrap_or_else(|record| panic!("the server failed: {record:#?}"));
    assert_eq!(running.addr.ip(), ip, "it listens where it was told");
    let addr = running.connect_addr();
    let lines: Vec<Vec<u8>> = ["one", "two two", "three \u{2713}"]
        .map(|m| framed(m.as_bytes()))
        .to_vec();
    let sent = lines.clone();
    let client = peer("the native client", move || native_tcp_client(addr, &sent));
    // With one session allowed, the server returns by itself once the client
    // has closed; the sleep only bounds the wait.
    let record = running.finish(tokio::time::sleep(WAIT)).await;
    let replies = client.join();
    assert_eq!(replies, lines, "server: {record:#?}");
    let served = record.served.as_ref().expect("a server report");
    let total: usize = lines.iter().map(Vec::len).sum();
    assert_eq!(served.sessions, 1, "{record:#?}");
    assert_eq!(served.bytes_in as usize, total, "{record:#?}");
    assert_eq!(served.bytes_out as usize, total, "{record:#?}");
    assert!(record.guest.refusals.is_empty(), "{record:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_server_native_client_echoes_ipv4() {
    guest_server_native_client(V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_server_native_client_echoes_ipv6() {
    guest_server_native_client(V6).await;
}

/// The guest client against a native server on `ip` that answers each line
/// in upper case, written as `writes` says.
async fn guest_client_native_server(ip: IpAddr, writes: Writes, messages: Vec<Vec<u8>>) {
    let (addr, server) = native_tcp_server(ip, writes, |line| line.to_ascii_uppercase());
    let spec = client_spec("tcp-client", &messages, 10_000, Expect::Any);
    let record = within("the client", exchange::run_client(&lab(), &spec, addr)).await;
    let report = json_of(vec![ExchangeRecord {
        transport: Transport::Tcp,
        server: None,
        client: Some(record),
    }]);
    let received = server.join();
    let sent: Vec<Vec<u8>> = messages.iter().map(|m| framed(m)).collect();
    assert_eq!(
        received, sent,
        "the native server got each line:\n{report:#}"
    );
    assert_replies(&report, &messages, |m| framed(&m.to_ascii_uppercase()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_native_server_replies_ipv4() {
    guest_client_native_server(V4, Writes::Whole, tricky_messages()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_native_server_replies_ipv6() {
    guest_client_native_server(V6, Writes::Whole, tricky_messages()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_native_server_byte_at_a_time_replies_byte_exact() {
    // Every reply arrives in as many reads as it has bytes; the client must
    // still frame each one as a whole line, and no reply may run into the
    // next.
    let mut messages = tricky_messages();
    messages.truncate(3); // 100 000 one-byte writes would only be slow
    messages.push(b"last".to_vec());
    guest_client_native_server(V4, Writes::ByteAtATime, messages).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_server_fifty_native_clients_all_answered() {
    const CLIENTS: usize = 50;
    let spec = server_spec("tcp-echo-server", any_port(V4), Some(CLIENTS as u64));
    let running = within("the server to listen", start_server(&lab(), spec))
        .await
        .unwrap_or_else(|record| panic!("the server failed: {record:#?}"));
    let addr = running.connect_addr();
    let clients = peer("the 50 native clients", move || {
        // Every client connects before any of them sends: 50 connections
        // are open at once, and stay open until every reply has been read.
        let conns: Vec<TcpStream> = (0..CLIENTS)
            .map(|i| {
                let conn = TcpStream::connect_timeout(&addr, WAIT)
                    .unwrap_or_else(|e| panic!("client {i} connecting: {e}"));
                conn.set_read_timeout(Some(WAIT)).unwrap();
                conn
            })
            .collect();
        for (i, mut conn) in conns.iter().enumerate() {
            writeln!(conn, "client {i} says hello").unwrap();
        }
        conns
            .iter()
            .map(|conn| {
                let mut reply = String::new();
                let read = BufReader::new(conn).read_line(&mut reply);
                read.map(|_| reply).map_err(|e| e.to_string())
            })
            .collect::<Vec<_>>()
    });
    let replies = match tokio::task::spawn_blocking(move || clients.join()).await {
        Ok(replies) => replies,
        Err(e) => panic!("{e}; server: {:#?}", running.stop().await),
    };
    let record = running.finish(tokio::time::sleep(WAIT)).await;
    for (i, reply) in replies.iter().enumerate() {
        let want = format!("client {i} says hello\n");
        assert_eq!(
            reply.as_deref(),
            Ok(want.as_str()),
            "client {i}; server: {record:#?}"
        );
    }
    let served = record.served.as_ref().expect("a server report");
    assert_eq!(served.sessions, CLIENTS as u64, "{record:#?}");
}

#[test]
fn tcp_guest_server_python_client_seed_steps() {
    if !python3() {
        return;
    }
    let (served, server) = seed_client_against("tcp", "tcp-echo-server");
    assert_eq!(served["sessions"], 1, "{server}");
    assert_eq!(served["bytes_in"], 7, "{server}");
    assert_eq!(served["bytes_out"], 7, "{server}");
}

#[test]
fn tcp_guest_client_python_server_seed_steps() {
    if !python3() {
        return;
    }
    let (record, client) = seed_server_for("tcp", "tcp-client", "reply_message", b"message\n");
    // The seed's server replies without a newline and closes: the reply is
    // every byte before the close.
    assert_eq!(record["status"], "closed", "{client}");
    assert_eq!(record["reply"]["text"], "reply_message", "{client}");
}
