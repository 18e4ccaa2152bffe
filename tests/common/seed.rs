//! The seed notes' Python socket steps (`tests/seed_steps.py`), run against
//! socklab's guests.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::proc::{Finished, Proc, Stream, socklab, spawn};

/// Whether `python3` can run; if not, say loudly that the test is skipped.
pub fn python3() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: python3 not found; the seed notes' steps were not run");
    }
    found
}

/// `python3 tests/seed_steps.py ARGS...`: the seed notes' socket steps.
pub fn seed_steps(args: &[&str]) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/seed_steps.py");
    spawn(Command::new("python3").arg("-u").arg(script).args(args))
}

/// `socklab serve GUEST` (on 127.0.0.1, one session, `--json`) with the
/// seed's Python `TRANSPORT-client` sending `message` to it: the client
/// must get it back and both must exit 0. The server's `served` figures,
/// with what it printed.
pub fn seed_client_against(transport: &str, guest: &str) -> (Value, Finished) {
    let mut server = socklab(&[
        "serve",
        guest,
        "--listen",
        "127.0.0.1:0",
        "--max-sessions",
        "1",
        "--json",
    ]);
    let addr = server.listening_addr();
    let (host, port) = (addr.ip().to_string(), addr.port().to_string());
    let role = format!("{transport}-client");
    let client = seed_steps(&[&role, &host, &port, "message"]).finish();
    client.assert_code(0);
    assert_eq!(client.received(), b"message", "{client}");
    // One session allowed: the client's exchange alone ends the server.
    let server = server.finish();
    server.assert_code(0);
    let served = server.json()["runs"][0]["server"]["served"].clone();
    (served, server)
}

/// The seed's Python `TRANSPORT-server` answering `reply`, and `socklab
/// connect GUEST --message message --json` to it: the server must have
/// received `sent_as` and exit 0, the client exit 0. The client's record
/// of its one message, with what it printed.
pub fn seed_server_for(
    transport: &str,
    guest: &str,
    reply: &str,
    sent_as: &[u8],
) -> (Value, Finished) {
    let role = format!("{transport}-server");
    let mut server = seed_steps(&[&role, "127.0.0.1", reply]);
    let port = server.wait_line(Stream::Stdout, "port ");
    let to = format!("127.0.0.1:{port}");
    let client = socklab(&[
        "connect",
        guest,
        "--to",
        &to,
        "--message",
        "message",
        "--json",
    ]);
    let client = client.finish();
    let server = server.finish();
    server.assert_code(0);
    assert_eq!(server.received(), sent_as, "{server}\n{client}");
    client.assert_code(0);
    let record = client.json()["runs"][0]["client"]["messages"][0].clone();
    (record, client)
}
