//! Proof of delivery: what each receiver got, checked message by message.
//!
//! Every load message's body carries a hash of the rest of it (see
//! [`crate::ws::body`]), so a receiver knows the content is what was sent.
//! A [`Tally`] per receiver remembers which numbers of each sender it got,
//! and counts duplicates, messages from one sender out of their order, and
//! corrupted bodies, each apart; after the run, [`Tally::missing`] counts
//! what never came of what the senders sent in the measured window.

use serde::Serialize;

/// FNV-1a (64 bit) over the body without its hash: not a secret, only a
/// check that the bytes arrived as sent, cheap enough for a million
/// deliveries a second.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// One receiver's record.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Per sender: a bit for each message number received.
    seen: Vec<Vec<u64>>,
    /// Per sender: the highest number received so far.
    highest: Vec<Option<u64>>,
    /// The last room seq received (SecureChat frames carry one).
    last_seq: Option<u64>,
    pub counts: Counts,
}

/// What went wrong, each kind counted apart.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Of the messages sent in the measured window, how many deliveries
    /// never came (summed over receivers).
    pub lost: u64,
    /// A message received again.
    pub duplicated: u64,
    /// A message received after a later one of the same sender, or a room
    /// seq not above the one before.
    pub out_of_order: u64,
    /// A body whose hash does not match its content.
    pub corrupted: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.out_of_order += o.out_of_order;
        self.corrupted += o.corrupted;
    }

    /// Anything but loss (which a server may cause by design, cutting a
    /// slow consumer, or past its limit): the server delivered wrongly.
    pub fn wrong(&self) -> u64 {
        self.duplicated + self.out_of_order + self.corrupted
    }
}

impl Tally {
    /// Records message `n` of `sender`; `intact` says whether its hash
    /// matched, `seq` is its room seq when the frame has one.
    pub fn record(&mut self, sender: usize, n: u64, intact: bool, seq: Option<u64>) {
        if !intact {
            self.counts.corrupted += 1;
            return;
        }
        if let Some(seq) = seq {
            if self.last_seq.is_some_and(|last| seq <= last) {
                self.counts.out_of_order += 1;
            }
            self.last_seq = Some(seq);
        }
        if self.seen.len() <= sender {
            self.seen.resize(sender + 1, Vec::new());
            self.highest.resize(sender + 1, None);
        }
        let bits = &mut self.seen[sender];
        let (word, bit) = ((n / 64) as usize, n % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & (1 << bit) != 0 {
            self.counts.duplicated += 1;
            return;
        }
        bits[word] |= 1 << bit;
        let highest = &mut self.highest[sender];
        if highest.is_some_and(|h| n < h) {
            self.counts.out_of_order += 1;
        } else {
            *highest = Some(n);
        }
    }

    /// How many of the numbers in `sent[s]` (a range per sender, end
    /// excluded) this receiver never got.
    pub fn missing(&self, sent: &[std::ops::Range<u64>]) -> u64 {
        let got = |s: usize, n: u64| {
            self.seen
                .get(s)
                .and_then(|bits| bits.get((n / 64) as usize))
                .is_some_and(|w| w & (1 << (n % 64)) != 0)
        };
        sent.iter()
            .enumerate()
            .map(|(s, range)| range.clone().filter(|&n| !got(s, n)).count() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_fault_is_counted_apart() {
        let mut t = Tally::default();
        t.record(0, 0, true, Some(1));
        t.record(1, 0, true, Some(2));
        t.record(0, 2, true, Some(3));
        t.record(0, 1, true, Some(4)); // late: out of order for sender 0
        t.record(0, 2, true, Some(5)); // again
        t.record(1, 1, false, Some(6)); // corrupted: not counted as received
        t.record(1, 3, true, Some(5)); // seq not above the last
        assert_eq!(
            t.counts,
            Counts {
                lost: 0,
                duplicated: 1,
                out_of_order: 2,
                corrupted: 1
            }
        );
        // Sender 0 sent 0..4 in the window, sender 1 0..4: 3 and 1, 2 never came.
        assert_eq!(t.missing(&[0..4, 0..4]), 3);
        assert_eq!(t.missing(&[1..3, 3..4]), 0);
        assert_eq!(Tally::default().missing(&[0..2, 5..6]), 3);
    }
}
