//! `net-command`: an ordinary WASI 0.2 command written with Rust std, the
//! kind of program people already have, for `socklab run`.
//!
//! `net-command echo WORDS...` prints its words and `$GREETING`;
//! `net-command tcp ADDR TEXT` connects, sends a line and prints the reply;
//! `net-command udp ADDR TEXT` sends a datagram and prints the reply;
//! `net-command read PATH` prints a file; `net-command exit N` exits with N;
//! `net-command spin` computes forever (for the CPU limit);
//! `net-command ping ADDR COUNT SIZE` connects once, sends COUNT messages of
//! SIZE bytes and reads each one echoed back before the next (the ping-pong
//! `socklab bench` times under `socklab run` and `wasmtime run`).
//! A refused socket call prints the error and exits with 4.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    match arg(0).as_str() {
        "echo" => {
            let greeting = std::env::var("GREETING").unwrap_or_default();
            println!("{} {greeting}", args[1..].join(" "));
        }
        "tcp" => {
            // connect, sendall(line), recv until b'\n'
            let mut conn = TcpStream::connect(arg(1)).unwrap_or_else(|e| fail("connect", e));
            writeln!(conn, "{}", arg(2)).unwrap_or_else(|e| fail("send", e));
            let mut reply = String::new();
            BufReader::new(conn)
                .read_line(&mut reply)
                .unwrap_or_else(|e| fail("recv", e));
            print!("{reply}");
        }
        "udp" => {
            // sendto, recvfrom
            let socket = UdpSocket::bind("0.0.0.0:0").unwrap_or_else(|e| fail("bind", e));
            socket
                .send_to(arg(2).as_bytes(), arg(1))
                .unwrap_or_else(|e| fail("sendto", e));
            let mut buf = [0u8; 2048];
            let (n, _) = socket
                .recv_from(&mut buf)
                .unwrap_or_else(|e| fail("recvfrom", e));
            println!("{}", String::from_utf8_lossy(&buf[..n]));
        }
        "ping" => {
            let count: u64 = arg(2).parse().unwrap_or(0);
            let size: usize = arg(3).parse().unwrap_or(64).max(1);
            let mut conn = TcpStream::connect(arg(1)).unwrap_or_else(|e| fail("connect", e));
            let message = vec![b'p'; size];
            let mut reply = vec![0u8; size];
            for _ in 0..count {
                // sendall(message); recv until all of it is back
                conn.write_all(&message).unwrap_or_else(|e| fail("send", e));
                conn.read_exact(&mut reply)
                    .unwrap_or_else(|e| fail("recv", e));
            }
            println!("{count} round trips of {size} B");
        }
        "read" => match std::fs::read_to_string(arg(1)) {
            Ok(text) => print!("{text}"),
            Err(e) => fail("read", e),
        },
        "exit" => exit(arg(1).parse().unwrap_or(1)),
        "spin" => {
            // A loop the optimiser cannot remove, that never calls the host.
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        other => {
            eprintln!("usage: net-command echo|tcp|udp|ping|read|exit|spin ... (got `{other}`)");
            exit(2);
        }
    }
}

fn fail<T>(what: &str, e: std::io::Error) -> T {
    eprintln!("{what}: {e}");
    exit(4)
}
