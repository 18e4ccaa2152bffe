//! TCP end to end: the guest client and the guest echo server with each
//! other, with native `std::net` peers on IPv4 and IPv6, with the seed notes'
//! Python steps, and under stress (50 clients at once, a server that writes
//! one byte at a time).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use common::tcp::*;
use common::*;
use socklab::exchange::{self, start_server};
use socklab::report::Expect;

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

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_server_native_client_echoes_ipv4() {
    guest_server_native_client("tcp-echo-server", V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_server_native_client_echoes_ipv6() {
    guest_server_native_client("tcp-echo-server", V6).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_native_server_replies_ipv4() {
    guest_client_native_server("tcp-client", V4, Writes::Whole, tricky_messages()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_native_server_replies_ipv6() {
    guest_client_native_server("tcp-client", V6, Writes::Whole, tricky_messages()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_guest_client_native_server_byte_at_a_time_replies_byte_exact() {
    // Every reply arrives in as many reads as it has bytes; the client must
    // still frame each one as a whole line, and no reply may run into the
    // next.
    let mut messages = tricky_messages();
    messages.truncate(3); // 100 000 one-byte writes would only be slow
    messages.push(b"last".to_vec());
    guest_client_native_server("tcp-client", V4, Writes::ByteAtATime, messages).await;
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
