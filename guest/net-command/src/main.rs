//! `net-command`: an ordinary WASI 0.2 command written with Rust std, the
//! kind of program people already have, for `socklab run`.
//!
//! `net-command echo WORDS...` prints its words and `$GREETING`;
//! `net-command tcp ADDR TEXT` connects, sends a line and prints the reply;
//! `net-command udp ADDR TEXT` sends a datagram and prints the reply;
//! `net-command read PATH` prints a file; `net-command exit N` exits with N.
//! A refused socket call prints the error and exits with 4.

use std::io::{BufRead, BufReader, Write};
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
        "read" => match std::fs::read_to_string(arg(1)) {
            Ok(text) => print!("{text}"),
            Err(e) => fail("read", e),
        },
        "exit" => exit(arg(1).parse().unwrap_or(1)),
        other => {
            eprintln!("usage: net-command echo|tcp|udp|read|exit ... (got `{other}`)");
            exit(2);
        }
    }
}

fn fail<T>(what: &str, e: std::io::Error) -> T {
    eprintln!("{what}: {e}");
    exit(4)
}
