//! TCP guests with native `std::net` peers: a guest server with a native
//! client, a guest client with a native server (for the 0.2 and 0.3 guests
//! alike).

use std::net::IpAddr;

use socklab::exchange::{self, start_server};
use socklab::report::{ExchangeRecord, Expect};
use socklab::roles::Transport;

use super::*;

/// The TCP echo server guest `guest` on `ip`, serving one native client
/// sending three lines: every byte back, and its report counting them.
pub async fn guest_server_native_client(guest: &str, ip: IpAddr) {
    let spec = server_spec(guest, any_port(ip), Some(1));
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

/// The TCP client guest `guest` against a native server on `ip` that
/// answers each line in upper case, written as `writes` says: the server
/// gets each line, the client each reply, byte for byte.
pub async fn guest_client_native_server(
    guest: &str,
    ip: IpAddr,
    writes: Writes,
    messages: Vec<Vec<u8>>,
) {
    let (addr, server) = native_tcp_server(ip, writes, |line| line.to_ascii_uppercase());
    let spec = client_spec(guest, &messages, 10_000, Expect::Any);
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
