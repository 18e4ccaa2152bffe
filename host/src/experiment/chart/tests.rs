//! Unit tests of `chart`.

use super::*;

fn message(sent_at_ms: f64, fate: FateKind, rtt_ms: Option<f64>, timeout_ms: f64) -> Message {
    Message {
        sent_at_ms,
        fate,
        rtt_ms,
        timeout_ms,
        duplicated: false,
        reordered: false,
    }
}

fn answered_at(transport: Transport, rtts: &[f64], timeout_ms: f64) -> Series {
    let messages = rtts
        .iter()
        .enumerate()
        .map(|(i, &rtt)| message(i as f64 * 10.0, FateKind::Answered, Some(rtt), timeout_ms))
        .collect();
    Series {
        transport,
        messages,
    }
}

fn chart(series: Vec<Series>) -> Chart {
    Chart {
        title: "a test".into(),
        links: vec!["udp-client→udp-server both: loss 30% (timeout 100ms)".into()],
        lessons: vec!["UDP: 2 of 5 replies lost, 3 answered".into()],
        series,
    }
}

fn svg(chart: &Chart) -> String {
    render_svg(chart).unwrap()
}

/// How many times `needle` occurs in `svg`.
fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

/// The text of every `<text>` element.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .map(|t| {
            t.split_once('>')
                .unwrap()
                .1
                .split("</text>")
                .next()
                .unwrap()
                .trim()
                .to_string()
        })
        .collect()
}

/// UDP answers 3 and loses `lost`; TCP answers 2 and cannot send `failed`.
fn lossy(lost: usize, failed: usize) -> Chart {
    let mut udp = answered_at(Transport::Udp, &[0.2, 0.3, 0.25], 100.0);
    for i in 0..lost {
        udp.messages.push(message(
            100.0 + i as f64 * 100.0,
            FateKind::Lost,
            None,
            100.0,
        ));
    }
    let mut tcp = answered_at(Transport::Tcp, &[0.3, 0.4], 2000.0);
    for i in 0..failed {
        tcp.messages.push(message(
            50.0 + i as f64 * 60.0,
            FateKind::Failed,
            None,
            2000.0,
        ));
    }
    chart(vec![udp, tcp])
}

#[test]
fn chart_marks_lost_and_failed_messages() {
    let cross = format!("stroke=\"{}\"", hex(LOST));
    let square = format!(
        "width=\"8\" height=\"8\" opacity=\"1\" fill=\"{}\"",
        hex(FAILED)
    );
    let few = svg(&lossy(1, 1));
    let more = svg(&lossy(3, 4));
    // A cross (two lines) per lost message, a square per failed one,
    // beside the legend's.
    assert_eq!(count(&more, &cross) - count(&few, &cross), 2 * 2, "{more}");
    assert_eq!(count(&more, &square) - count(&few, &square), 3, "{more}");
    let texts = texts(&more);
    for said in [
        "3 lost",
        "4 not sent",
        "lost (no reply)",
        "not sent",
        "UDP timeout",
        "TCP timeout",
        "100 ms",
        "2 s",
    ] {
        assert!(texts.iter().any(|t| t == said), "no {said:?} in {texts:?}");
    }
}

#[test]
fn chart_counts_the_marks_piled_on_one_spot() {
    // Every message after a reset fails at once.
    let mut tcp = answered_at(Transport::Tcp, &[2.5, 2.7], 2000.0);
    for _ in 0..12 {
        tcp.messages
            .push(message(430.0, FateKind::Failed, None, 2000.0));
    }
    let texts = texts(&svg(&chart(vec![tcp])));
    // In the bar, and beside the pile.
    let said = texts.iter().filter(|t| *t == "12 not sent").count();
    assert_eq!(said, 2, "{texts:?}");
}

#[test]
fn chart_marks_late_duplicated_and_interrupted_messages() {
    let mut udp = answered_at(Transport::Udp, &[0.2, 0.3], 40.0);
    udp.messages[1].duplicated = true;
    for i in 0..3 {
        let mut late = message(30.0 + 50.0 * i as f64, FateKind::Late, None, 40.0);
        late.duplicated = i == 0;
        udp.messages.push(late);
    }
    udp.messages
        .push(message(200.0, FateKind::Interrupted, None, 40.0));
    let svg = svg(&chart(vec![udp]));
    let texts = texts(&svg);
    for said in [
        "late (reply after the timeout)",
        "interrupted (Ctrl-C)",
        "reply duplicated",
        "6 messages; 2 duplicated",
    ] {
        assert!(texts.iter().any(|t| t == said), "no {said:?} in {texts:?}");
    }
    // Each beside its legend's: a triangle per late message, a ring
    // per duplicated one, a grey circle per interrupted one.
    let late = format!("<polygon opacity=\"1\" fill=\"{}\"", hex(LATE));
    assert_eq!(count(&svg, &late), 3 + 1, "{svg}");
    assert_eq!(count(&svg, "r=\"7\""), 2 + 1, "{svg}");
    let interrupted = format!("stroke=\"{}\"", hex(INTERRUPTED));
    assert_eq!(count(&svg, &interrupted), 1 + 1, "{svg}");
}

#[test]
fn chart_rtt_axis_is_log_when_rtts_differ_tenfold() {
    let far = chart(vec![
        answered_at(Transport::Udp, &[0.1, 0.2, 0.3, 0.4, 0.5], 100.0),
        answered_at(Transport::Tcp, &[200.0, 600.0, 1400.0, 6200.0], 10_000.0),
    ]);
    let svg = svg(&far);
    let texts = texts(&svg);
    assert!(texts.iter().any(|t| t == "RTT (log scale)"), "{texts:?}");
    for tick in ["0.1 ms", "1 ms", "10 ms", "100 ms", "1 s"] {
        assert!(
            texts.iter().any(|t| t == tick),
            "no tick {tick:?} in {texts:?}"
        );
    }
    assert!(!svg.contains(".0<") && !svg.contains("6000"), "{texts:?}");
    // Log-spaced bins: UDP's five RTTs fall in bars of their own
    // instead of one bar beside TCP's seconds.
    let udp_bars = format!("opacity=\"0.85\" fill=\"{}\"", hex(colour(Transport::Udp)));
    let bars = svg
        .lines()
        .filter(|l| l.starts_with("<rect") && l.contains(&udp_bars))
        .count();
    assert!(bars >= 4, "{bars} UDP bars in {svg}");

    let near = chart(vec![
        answered_at(Transport::Udp, &[1.0, 1.2], 100.0),
        answered_at(Transport::Tcp, &[1.5, 2.0], 100.0),
    ]);
    let texts = super::tests::texts(&super::tests::svg(&near));
    assert!(!texts.iter().any(|t| t.contains("log scale")), "{texts:?}");
    assert!(texts.iter().any(|t| t == "RTT"), "{texts:?}");
}

#[test]
fn chart_caption_says_the_impairments_and_the_lessons() {
    let mut c = lossy(2, 0);
    c.lessons
        .push("TCP: 2 of 2 answered, p99 RTT about UDP's (0.40 ms)".into());
    let svg = svg(&c);
    let texts = texts(&svg);
    for said in [
        "udp-client→udp-server both: loss 30% (timeout 100ms)",
        "UDP: 2 of 5 replies lost, 3 answered",
        "TCP: 2 of 2 answered, p99 RTT about UDP&apos;s (0.40 ms)",
    ] {
        assert!(texts.iter().any(|t| t == said), "no {said:?} in {texts:?}");
    }
    // Only fonts every renderer has.
    assert_eq!(
        count(&svg, "font-family=\"sans-serif\""),
        count(&svg, "font-family="),
        "{svg}"
    );
    // A lesson too long for one line goes on over several.
    c.lessons = vec![["a long lesson"; 40].join(" ")];
    let texts = super::tests::texts(&super::tests::svg(&c));
    assert!(
        texts
            .iter()
            .filter(|t| t.starts_with("a long lesson"))
            .count()
            >= 2,
        "{texts:?}"
    );
}

#[test]
fn chart_of_a_run_with_nothing_answered_says_so() {
    let udp = Series {
        transport: Transport::Udp,
        messages: (0..4)
            .map(|i| message(i as f64 * 50.0, FateKind::Lost, None, 50.0))
            .collect(),
    };
    let svg = svg(&chart(vec![udp]));
    let texts = texts(&svg);
    assert!(
        texts
            .iter()
            .any(|t| t == "No message was answered: there is no RTT to plot."),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "4 lost"), "{texts:?}");
    assert!(
        !texts.iter().any(|t| t.contains("RTT over time")),
        "{texts:?}"
    );

    let texts = super::tests::texts(&super::tests::svg(&chart(Vec::new())));
    assert!(
        texts
            .iter()
            .any(|t| t == "No message was sent: there is no RTT to plot."),
        "{texts:?}"
    );
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}
