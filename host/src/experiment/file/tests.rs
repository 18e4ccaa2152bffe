//! Unit tests of `file`.

use std::path::Path;

use super::*;

fn error_of(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("parsed: {text}"),
        Err(e) => e.render(Path::new("x.toml"), text),
    }
}

#[test]
fn a_whole_file_parses() {
    let doc = parse(
        r#"
        seed = 7
        [messages]
        count = 10
        size = "1KiB"
        [nodes.s]
        guest = "udp-echo-server"
        [nodes.c]
        guest = "udp-client"
        timeout = "300ms"
        [[links]]
        from = "@c"
        to = "@s"
        both = { loss = "30%", delay = "5ms" }
        to_client = { loss = 0.1, rate = "1MiB/s" }
        "#,
    )
    .unwrap();
    assert_eq!(doc.seed, 7);
    assert_eq!(
        doc.messages.unwrap().size.map(|s| s.into_inner()),
        Some(Size(1024))
    );
    let link = doc.links[0].get_ref();
    let both = link.both.as_ref().unwrap().get_ref();
    let merged = both.overlay(link.to_client.as_ref().unwrap().get_ref());
    assert_eq!(merged.loss, Some(Percent(0.1)));
    assert_eq!(merged.delay, Some(Dur(Duration::from_millis(5))));
    assert_eq!(merged.rate, Some(Rate(1 << 20)));
}

#[test]
fn errors_name_the_line_and_the_field() {
    let bad_value = "seed = 1\n[nodes.s]\nguest = \"x\"\n[[links]]\nfrom = \"@a\"\nto = \"@s\"\nboth = { loss = \"130%\" }\n";
    let e = error_of(bad_value);
    assert!(e.starts_with("x.toml:7: field `loss`:"), "{e}");
    assert!(e.contains("130%"), "{e}");
    let unknown = "seed = 1\n[nodes.s]\nguest = \"x\"\nlisten_on = \"1\"\n";
    let e = error_of(unknown);
    assert!(e.starts_with("x.toml:4:"), "{e}");
    assert!(e.contains("listen_on"), "{e}");
    let bad_addr = "[nodes.s]\nguest = \"x\"\nlisten = \"localhost\"\n";
    let e = error_of(bad_addr);
    assert!(e.starts_with("x.toml:3: field `listen`:"), "{e}");
    assert!(!e.contains('\n'));
}
