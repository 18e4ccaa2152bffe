//! Loss in bursts: the Gilbert–Elliott model, a two-state chain per link
//! direction, drawn from the seed like every other fate.
//!
//! The relays cannot honour it (they draw each datagram on its own), so it
//! is a simulated-network model only; independent `loss` is drawn first and
//! keeps its relay draws, so a link with both stays a twin of a real one for
//! the datagrams `loss` decides.

/// The four parameters of a Gilbert–Elliott channel, as tc netem's
/// `loss gemodel p r 1-h 1-k` takes them (here as probabilities).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurstLoss {
    /// Good → bad per datagram (`p`): how often a burst starts.
    pub p: f64,
    /// Bad → good per datagram (`r`): a burst lasts `1/r` datagrams on
    /// average.
    pub r: f64,
    /// Loss probability in the bad state (`1-h`); 1 for the simple
    /// Gilbert model.
    pub loss_bad: f64,
    /// Loss probability in the good state (`1-k`); 0 for the simple
    /// Gilbert model.
    pub loss_good: f64,
}

impl BurstLoss {
    /// The long-run share of datagrams lost:
    /// `(r·loss_good + p·loss_bad) / (p + r)`.
    pub fn average_loss(&self) -> f64 {
        if self.p + self.r == 0.0 {
            return self.loss_good;
        }
        (self.r * self.loss_good + self.p * self.loss_bad) / (self.p + self.r)
    }
}

/// One direction's chain: in which state it is.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    /// In the bad state (a burst) since the last datagram's step.
    bad: bool,
    /// The previous datagram on this direction was lost by the chain, so a
    /// loss now continues a burst instead of starting one.
    last_lost: bool,
}

impl Chain {
    /// Steps the chain for one datagram with draws `step` and `lose` (each
    /// in [0, 1)): whether it is lost, and whether that loss starts a burst.
    pub(crate) fn step(&mut self, model: &BurstLoss, step: f64, lose: f64) -> (bool, bool) {
        self.bad = if self.bad {
            step >= model.r
        } else {
            step < model.p
        };
        let p = if self.bad {
            model.loss_bad
        } else {
            model.loss_good
        };
        let lost = lose < p;
        let starts = lost && !self.last_lost;
        self.last_lost = lost;
        (lost, starts)
    }
}
