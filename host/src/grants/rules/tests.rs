//! Unit tests of `rules`.

use super::*;

fn rule(text: &str) -> Rule {
    parse(text, Origin::Allow).unwrap()
}

#[test]
fn grammar_round_trips() {
    for text in [
        "tcp-connect=127.0.0.1:8000-8100",
        "udp=[::1]:*",
        "udp-send=127.0.0.0/8:53",
        "*=*:*",
        "dns=*.example.com,localhost",
        "tcp-bind,udp-bind=[fd00::]/8:*,localhost:80",
    ] {
        let shown = rule(text).to_string();
        assert_eq!(rule(&shown), rule(text), "{text} shown as {shown}");
    }
}

#[test]
fn blocks_ports_and_names_match() {
    let r = rule("tcp-connect=10.0.0.0/8:8000-8100");
    assert!(r.matches(Op::TcpConnect, "10.9.8.7:8050".parse().unwrap(), |_| false));
    assert!(!r.matches(Op::TcpConnect, "11.0.0.1:8050".parse().unwrap(), |_| false));
    assert!(!r.matches(Op::TcpConnect, "10.0.0.1:8101".parse().unwrap(), |_| false));
    assert!(!r.matches(Op::UdpSend, "10.0.0.1:8050".parse().unwrap(), |_| false));
    let dns = rule("dns=*.example.com");
    assert!(dns.matches_name("a.example.com"));
    assert!(!dns.matches_name("example.com"));
    assert!(
        !rule("*=*").matches_name("example.com"),
        "`*` leaves dns out"
    );
}

#[test]
fn bad_rules_say_why() {
    for (text, says) in [
        ("tcp-connect", "no `=`"),
        ("tcp-frob=*", "unknown operation"),
        ("tcp=300.1.1.1", "not an address"),
        ("tcp=127.0.0.1:70000", "not a port"),
        ("tcp=127.0.0.1:90-80", "reversed"),
        ("tcp=[::1", "does not close"),
        ("tcp=10.0.0.0/33", "prefix length"),
        ("dns,tcp=x", "cannot share"),
        ("tcp-connect=::1", "write it in brackets: [::1]"),
        ("tcp=fd00::/8", "[fd00::]/8"),
    ] {
        let err = parse(text, Origin::Allow).unwrap_err();
        assert!(err.contains(says), "{text}: {err}");
    }
}
