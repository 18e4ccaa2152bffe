//! `socklab lab` run on the examples or on a file written by the test, and
//! readers for its report and its capture.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::proc::{Finished, socklab};

/// The examples shipped with socklab.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// `socklab --json lab FILE --out DIR ARGS...`: the finished process, its
/// JSON document, and the output directory.
pub fn lab_run(file: &Path, args: &[&str]) -> (Finished, Value, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().display().to_string();
    let file_arg = file.display().to_string();
    let mut all = vec!["--json", "lab", &file_arg, "--out", &out_arg];
    all.extend_from_slice(args);
    let done = socklab(&all).finish();
    let json = done.json();
    (done, json, out)
}

/// The figures of `transport` (`"udp"` or `"tcp"`).
pub fn figures<'a>(report: &'a Value, transport: &str) -> &'a Value {
    report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["transport"] == transport)
        .unwrap_or_else(|| panic!("no {transport} figures in {report:#}"))
}

/// The client record named `name` in a lab report.
pub fn client<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == name)
        .unwrap_or_else(|| panic!("no client {name} in {report:#}"))
}

/// A count in the report.
pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Every message of `transport` answered.
pub fn assert_all_answered(done: &Finished, report: &Value, transport: &str) {
    let f = figures(report, transport);
    assert!(n(&f["messages"]) > 0, "{done}");
    assert_eq!(f["answered"], f["messages"], "{transport}: {f:#}\n{done}");
}

/// Write `text` as an experiment file (and `extra` files beside it) and run
/// it: the process, its JSON document, and the directory (kept alive).
pub fn lab_text(text: &str, extra: &[(&str, &str)]) -> (Finished, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("experiment.toml");
    std::fs::write(&file, text).unwrap();
    for (name, content) in extra {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let (done, report, _out) = lab_run(&file, &[]);
    (done, report, dir)
}

/// The simulated network's examples (examples/sim/).
pub fn example_sim(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/sim")
        .join(name)
}

/// The UDP datagrams of a pcap file: `(timestamp µs, source, destination,
/// payload)`, every record checked to be IP + UDP.
pub fn udp_records(path: &Path) -> Vec<(u64, SocketAddr, SocketAddr, Vec<u8>)> {
    let file = std::fs::File::open(path).expect("the capture exists");
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap header");
    assert_eq!(reader.header().datalink, pcap_file::DataLink::RAW);
    let mut records = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("a whole record");
        let sliced = etherparse::SlicedPacket::from_ip(&packet.data).expect("an IP packet");
        let (src, dst): (std::net::IpAddr, std::net::IpAddr) = match &sliced.net {
            Some(etherparse::NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                (h.source_addr().into(), h.destination_addr().into())
            }
            Some(etherparse::NetSlice::Ipv6(ip)) => {
                let h = ip.header();
                (h.source_addr().into(), h.destination_addr().into())
            }
            other => panic!("not IP: {other:?}"),
        };
        let Some(etherparse::TransportSlice::Udp(udp)) = &sliced.transport else {
            panic!("not UDP");
        };
        records.push((
            packet.timestamp.as_micros() as u64,
            SocketAddr::new(src, udp.source_port()),
            SocketAddr::new(dst, udp.destination_port()),
            udp.payload().to_vec(),
        ));
    }
    records
}

/// `#000042 ` at the start of a generated message: its sequence number.
pub fn seq(payload: &[u8]) -> u64 {
    std::str::from_utf8(&payload[1..7])
        .expect("a numbered message")
        .parse()
        .expect("a number")
}
