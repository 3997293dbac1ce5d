//! The check of one (publisher, topic) stream as one subscriber sees it:
//! sequence numbers must arrive once each, in order. A gap is remembered
//! until its numbers arrive (late: out of order) or the run ends (lost);
//! a number seen before is a duplicate. The steady state (every number
//! the next one) costs a compare and an increment. A subscriber that came
//! back without recovery (`--recover plain`) resumes its streams: what
//! was published while it was away is skipped, not lost.

/// What a received sequence number was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// New, and in order.
    InOrder,
    /// New, but after a later number (it filled a gap).
    Late,
    /// Already received.
    Duplicate,
    /// New, the first after a [`StreamCheck::resume`]: this many numbers
    /// before it were skipped.
    Resumed(u64),
}

/// Sequence numbers received on one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamCheck {
    /// One past the highest number received.
    next: u64,
    /// Numbers below `next` not received, as half-open ranges in order.
    gaps: Vec<(u64, u64)>,
    /// Resumed: the next number above `next` skips what lies between.
    resuming: bool,
}

impl StreamCheck {
    /// The subscriber came back without recovery: numbers published while
    /// it was away, up to the next one it receives, are skipped.
    pub fn resume(&mut self) {
        self.resuming = true;
    }

    /// Records number `seq`.
    pub fn see(&mut self, seq: u64) -> Seen {
        if std::mem::take(&mut self.resuming) && seq >= self.next {
            let skipped = seq - self.next;
            self.next = seq + 1;
            return Seen::Resumed(skipped);
        }
        if seq == self.next {
            self.next += 1;
            return Seen::InOrder;
        }
        if seq > self.next {
            self.gaps.push((self.next, seq));
            self.next = seq + 1;
            return Seen::InOrder;
        }
        let Some(i) = self.gaps.iter().position(|&(lo, hi)| lo <= seq && seq < hi) else {
            return Seen::Duplicate;
        };
        let (lo, hi) = self.gaps[i];
        match (seq == lo, seq + 1 == hi) {
            (true, true) => {
                self.gaps.remove(i);
            }
            (true, false) => self.gaps[i].0 = seq + 1,
            (false, true) => self.gaps[i].1 = seq,
            (false, false) => {
                self.gaps[i].1 = seq;
                self.gaps.insert(i + 1, (seq + 1, hi));
            }
        }
        Seen::Late
    }

    /// Distinct numbers received.
    pub fn received(&self) -> u64 {
        self.next - self.gaps.iter().map(|(lo, hi)| hi - lo).sum::<u64>()
    }

    /// Numbers below `published` never received (those after a resume
    /// still waiting for its first number are skipped, not lost).
    pub fn lost(&self, published: u64) -> u64 {
        let missing: u64 = self
            .gaps
            .iter()
            .filter(|(lo, _)| *lo < published)
            .map(|&(lo, hi)| hi.min(published) - lo)
            .sum();
        missing + self.tail(published).0
    }

    /// Numbers from `published` on a resume still waits for: skipped.
    pub fn skipped(&self, published: u64) -> u64 {
        self.tail(published).1
    }

    /// The numbers past the highest received and below `published`: as
    /// (lost, skipped).
    fn tail(&self, published: u64) -> (u64, u64) {
        let tail = published.saturating_sub(self.next);
        if self.resuming {
            (0, tail)
        } else {
            (tail, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_stream_is_clean() {
        let mut s = StreamCheck::default();
        for seq in 0..100 {
            assert_eq!(s.see(seq), Seen::InOrder);
        }
        assert_eq!((s.received(), s.lost(100), s.lost(105)), (100, 0, 5));
    }

    #[test]
    fn gaps_late_arrivals_and_duplicates() {
        let mut s = StreamCheck::default();
        let seen: Vec<Seen> = [0, 1, 5, 3, 3, 1, 9, 2, 4, 7]
            .iter()
            .map(|&q| s.see(q))
            .collect();
        use Seen::*;
        assert_eq!(
            seen,
            vec![InOrder, InOrder, InOrder, Late, Duplicate, Duplicate, InOrder, Late, Late, Late]
        );
        // Received 0-5, 7, 9: missing 6 and 8, plus 10-11 of 12 published.
        assert_eq!(s.received(), 8);
        assert_eq!(s.lost(12), 4);
        assert_eq!(s.lost(7), 1);
    }

    #[test]
    fn a_resumed_stream_skips_what_it_was_away_for() {
        let mut s = StreamCheck::default();
        assert_eq!(s.see(0), Seen::InOrder);
        s.resume();
        assert_eq!((s.lost(5), s.skipped(5)), (0, 4), "waiting: skipped");
        assert_eq!(s.see(4), Seen::Resumed(3));
        assert_eq!(s.see(6), Seen::InOrder);
        assert_eq!(s.see(5), Seen::Late);
        assert_eq!((s.lost(8), s.skipped(8)), (1, 0), "after it, lost again");
    }
}
