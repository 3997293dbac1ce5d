//! A hashed timing wheel: set and cancel in O(1), 1 ms resolution.
//!
//! Pure data structure, no clock and no sockets: the shard converts
//! `Instant`s to ticks (milliseconds since the shard started) and asks the
//! wheel which timers are due. Each bucket is an intrusive doubly linked
//! list threaded through one node table, so cancelling unlinks the node at
//! once: a timer that is set and cancelled on every message leaves nothing
//! behind, unlike a heap with lazy deletion.
//!
//! Firing is two steps: [`expire`](Wheel::expire) moves the due timers
//! out of their buckets into a due queue, and [`pop_due`](Wheel::pop_due)
//! hands them out one at a time. A due timer keeps its node (and its key)
//! until it is handed out, so a callback run for one of them can still
//! cancel another due at the same moment, in O(1).

/// Buckets in the wheel; a power of two. One turn is this many ticks
/// (4.096 s): a timer further out stays in its bucket and is looked at
/// once per turn until its turn comes, which for a 60 s idle timeout is 15
/// looks over its life.
const BUCKETS: usize = 4096;

/// "No node": the end of a list.
const NIL: u32 = u32::MAX;

/// Names one timer in a [`Wheel`]; goes stale once the timer fired or was
/// cancelled (its slot's generation moves on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    /// Index into the node table.
    index: u32,
    /// Generation of that node when the key was issued.
    generation: u32,
}

impl TimerKey {
    /// A key that names no timer: an empty list head.
    pub const NONE: Self = Self {
        index: NIL,
        generation: 0,
    };

    /// Whether this is [`TimerKey::NONE`].
    pub fn is_none(self) -> bool {
        self.index == NIL
    }
}

/// One timer, or a vacant node on the free list.
struct Node<T> {
    /// Bumped when the node is vacated, so old keys go stale. A node whose
    /// generation reaches `u32::MAX` is retired, never reused, so a stale
    /// key can never name a later timer.
    generation: u32,
    /// In a bucket (not due yet, not vacant).
    linked: bool,
    /// Previous node in the bucket, or `NIL` at the head.
    prev: u32,
    /// Next node in the bucket (or in the free list), or `NIL`.
    next: u32,
    /// Tick at which the timer is due.
    deadline: u64,
    /// The timer's payload; `None` while vacant.
    value: Option<T>,
}

/// A hashed timing wheel holding values of type `T`.
pub struct Wheel<T> {
    /// Every node ever used; never shrinks.
    nodes: Vec<Node<T>>,
    /// Head of the list of vacant nodes.
    free: u32,
    /// Head node of each bucket.
    heads: Vec<u32>,
    /// One bit per bucket: set while the bucket is not empty, so the next
    /// deadline is found by scanning 64 words rather than 4096 heads.
    occupied: Vec<u64>,
    /// Timers set.
    len: usize,
    /// Every tick before this one has been expired.
    cursor: u64,
    /// Timers found due by `expire`, not handed out yet: (index,
    /// generation), so one cancelled (and its node reused) meanwhile is
    /// skipped.
    due: std::collections::VecDeque<(u32, u32)>,
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Wheel<T> {
    /// An empty wheel at tick 0.
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free: NIL,
            heads: vec![NIL; BUCKETS],
            occupied: vec![0; BUCKETS / 64],
            len: 0,
            cursor: 0,
            due: std::collections::VecDeque::new(),
        }
    }

    /// Timers set and not yet handed out or cancelled (due ones included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets a timer due at tick `deadline` (a deadline already past fires
    /// at the next [`expire`](Self::expire)).
    pub fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let deadline = deadline.max(self.cursor);
        let index = match self.free {
            NIL => {
                self.nodes.push(Node {
                    generation: 0,
                    linked: false,
                    prev: NIL,
                    next: NIL,
                    deadline,
                    value: Some(value),
                });
                // A shard holds far fewer than 4 billion timers: each one
                // belongs to a client or to the shard.
                u32::try_from(self.nodes.len() - 1).unwrap_or(NIL - 1)
            }
            index => {
                let node = &mut self.nodes[index as usize];
                self.free = node.next;
                node.deadline = deadline;
                node.value = Some(value);
                index
            }
        };
        self.link(index);
        self.len += 1;
        TimerKey {
            index,
            generation: self.nodes[index as usize].generation,
        }
    }

    /// Cancels a timer, due or not; returns its value, or `None` if the
    /// key is stale (the timer was handed out or cancelled already).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let node = self.nodes.get(key.index as usize)?;
        if node.generation != key.generation || node.value.is_none() {
            return None;
        }
        if node.linked {
            self.unlink(key.index);
        }
        Some(self.vacate(key.index))
    }

    /// The value of a timer still set.
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        let node = self.nodes.get_mut(key.index as usize)?;
        if node.generation != key.generation {
            return None;
        }
        node.value.as_mut()
    }

    /// Moves every timer due at or before tick `now` to the due queue; take
    /// them with [`pop_due`](Self::pop_due).
    pub fn expire(&mut self, now: u64) {
        if now < self.cursor {
            return;
        }
        // Past one turn every bucket is due once; looking at each bucket
        // once is then enough.
        let span = (now - self.cursor + 1).min(BUCKETS as u64);
        for step in 0..span {
            let bucket = ((self.cursor + step) as usize) & (BUCKETS - 1);
            let mut index = self.heads[bucket];
            while index != NIL {
                let node = &self.nodes[index as usize];
                let next = node.next;
                if node.deadline <= now {
                    let generation = node.generation;
                    self.unlink(index);
                    self.due.push_back((index, generation));
                }
                index = next;
            }
        }
        self.cursor = now + 1;
    }

    /// The next due timer, with its key, in the order `expire` found them.
    pub fn pop_due(&mut self) -> Option<(TimerKey, T)> {
        while let Some((index, generation)) = self.due.pop_front() {
            let node = &self.nodes[index as usize];
            if node.generation == generation && node.value.is_some() && !node.linked {
                let value = self.vacate(index);
                return Some((TimerKey { index, generation }, value));
            }
            // Cancelled after it fell due (its node may even be reused).
        }
        None
    }

    /// A tick by which the next timer may be due: the tick of the first
    /// occupied bucket from the cursor on. It can be early (that bucket may
    /// hold only timers of a later turn), never late.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        let start = (self.cursor as usize) & (BUCKETS - 1);
        let words = self.occupied.len();
        for i in 0..=words {
            let word_index = (start / 64 + i) % words;
            let mut word = self.occupied[word_index];
            if i == 0 {
                word &= u64::MAX << (start % 64);
            } else if i == words {
                // Back at the start word: only the bits before `start`.
                word &= !(u64::MAX << (start % 64));
            }
            if word != 0 {
                let bucket = word_index * 64 + word.trailing_zeros() as usize;
                let distance = (bucket + BUCKETS - start) % BUCKETS;
                return Some(self.cursor + distance as u64);
            }
        }
        None
    }

    /// Puts a set node at the head of its bucket.
    fn link(&mut self, index: u32) {
        let bucket = (self.nodes[index as usize].deadline as usize) & (BUCKETS - 1);
        let head = self.heads[bucket];
        if head != NIL {
            self.nodes[head as usize].prev = index;
        }
        let node = &mut self.nodes[index as usize];
        node.linked = true;
        node.prev = NIL;
        node.next = head;
        self.heads[bucket] = index;
        self.occupied[bucket / 64] |= 1 << (bucket % 64);
    }

    /// Takes a set node out of its bucket.
    fn unlink(&mut self, index: u32) {
        let node = &mut self.nodes[index as usize];
        node.linked = false;
        let (prev, next) = (node.prev, node.next);
        let bucket = (node.deadline as usize) & (BUCKETS - 1);
        if prev == NIL {
            self.heads[bucket] = next;
            if next == NIL {
                self.occupied[bucket / 64] &= !(1 << (bucket % 64));
            }
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
    }

    /// Frees an unlinked node and returns its value.
    fn vacate(&mut self, index: u32) -> T {
        let node = &mut self.nodes[index as usize];
        if node.generation == u32::MAX {
            // Retired, not put back on the free list: reusing it would wrap
            // the generation. Left vacant for ever, it matches no key. It
            // costs one node per four billion timers set in it.
            node.next = NIL;
        } else {
            node.generation += 1;
            node.next = self.free;
            self.free = index;
        }
        self.len -= 1;
        // Only set nodes are unlinked and vacated, so the value is there.
        match node.value.take() {
            Some(value) => value,
            None => unreachable!("vacated a node twice"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{TimerKey, Wheel, BUCKETS};

    fn expire(wheel: &mut Wheel<u32>, now: u64) -> Vec<u32> {
        wheel.expire(now);
        let mut fired = Vec::new();
        while let Some((_, v)) = wheel.pop_due() {
            fired.push(v);
        }
        fired.sort_unstable();
        fired
    }

    #[test]
    fn fires_at_the_deadline_not_before() {
        let mut wheel = Wheel::new();
        wheel.insert(10, 1);
        wheel.insert(10, 2);
        wheel.insert(11, 3);
        assert_eq!(expire(&mut wheel, 9), Vec::<u32>::new());
        assert_eq!(wheel.next_deadline(), Some(10));
        assert_eq!(expire(&mut wheel, 10), vec![1, 2]);
        assert_eq!(expire(&mut wheel, 11), vec![3]);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn cancelled_timers_never_fire_and_keys_go_stale() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(5, 1);
        let b = wheel.insert(5, 2);
        assert_eq!(wheel.cancel(a), Some(1));
        assert_eq!(wheel.cancel(a), None, "second cancel misses");
        let c = wheel.insert(5, 3);
        assert_eq!(c.index, a.index, "the node is reused");
        assert_eq!(wheel.cancel(a), None, "stale key misses the new timer");
        assert_eq!(expire(&mut wheel, 5), vec![2, 3]);
        assert_eq!(wheel.cancel(b), None, "a fired timer cannot be cancelled");
        assert!(TimerKey::NONE.is_none());
    }

    #[test]
    fn a_due_timer_can_be_cancelled_before_it_is_handed_out() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(5, 1);
        let b = wheel.insert(5, 2);
        wheel.expire(5);
        assert_eq!(wheel.len(), 2, "due but not handed out");
        let (first, value) = wheel.pop_due().unwrap();
        let other = if first == a { b } else { a };
        assert_eq!(wheel.cancel(other), Some(3 - value), "cancelled while due");
        let reused = wheel.insert(9, 7);
        assert_eq!(reused.index, other.index, "its node is reused at once");
        assert_eq!(wheel.pop_due(), None, "the cancelled one never comes");
        assert_eq!(wheel.cancel(first), None, "a handed-out timer is gone");
        assert_eq!(expire(&mut wheel, 9), vec![7]);
    }

    #[test]
    fn an_exhausted_node_is_retired_not_wrapped() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(5, 1);
        wheel.nodes[a.index as usize].generation = u32::MAX;
        let last = TimerKey {
            index: a.index,
            generation: u32::MAX,
        };
        assert_eq!(wheel.cancel(last), Some(1));
        let b = wheel.insert(5, 2);
        assert_ne!(b.index, a.index, "the exhausted node is not reused");
        assert_eq!(wheel.cancel(a), None);
        assert_eq!(wheel.cancel(last), None);
    }

    #[test]
    fn far_deadlines_wait_for_their_turn() {
        let mut wheel = Wheel::new();
        let far = 3 * BUCKETS as u64 + 7;
        wheel.insert(far, 1);
        wheel.insert(7, 2);
        assert_eq!(expire(&mut wheel, 7), vec![2]);
        // The far timer shares bucket 7: it is seen but not fired.
        assert_eq!(expire(&mut wheel, far - 1), Vec::<u32>::new());
        assert_eq!(expire(&mut wheel, far), vec![1]);
    }

    #[test]
    fn a_long_jump_fires_everything_due_once() {
        let mut wheel = Wheel::new();
        for i in 0..10_000u32 {
            wheel.insert(u64::from(i) * 3, i);
        }
        let fired = expire(&mut wheel, 100_000);
        assert_eq!(fired, (0..10_000).collect::<Vec<_>>());
        assert!(wheel.is_empty());
    }

    #[test]
    fn past_deadlines_fire_next() {
        let mut wheel = Wheel::new();
        assert_eq!(expire(&mut wheel, 100), Vec::<u32>::new());
        wheel.insert(3, 9);
        assert_eq!(wheel.next_deadline(), Some(101));
        assert_eq!(expire(&mut wheel, 101), vec![9]);
    }

    #[test]
    fn next_deadline_wraps_around_the_wheel() {
        let mut wheel: Wheel<u32> = Wheel::new();
        wheel.expire(BUCKETS as u64 - 10);
        wheel.insert(BUCKETS as u64 + 5, 1);
        assert_eq!(wheel.next_deadline(), Some(BUCKETS as u64 + 5));
        let key = wheel.insert(BUCKETS as u64 - 2, 2);
        assert_eq!(wheel.next_deadline(), Some(BUCKETS as u64 - 2));
        assert!(wheel.get_mut(key).is_some());
    }

    #[test]
    fn matches_a_sorted_model_under_random_use() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut wheel = Wheel::new();
        let mut model: Vec<(u64, u32, TimerKey)> = Vec::new();
        let mut now = 0u64;
        for value in 0..20_000u32 {
            match rng.gen_range(0..10) {
                0..=5 => {
                    let deadline = now + rng.gen_range(0..20_000);
                    let key = wheel.insert(deadline, value);
                    model.push((deadline, value, key));
                }
                6..=7 if !model.is_empty() => {
                    let (_, v, key) = model.swap_remove(rng.gen_range(0..model.len()));
                    assert_eq!(wheel.cancel(key), Some(v));
                }
                _ => {
                    now += rng.gen_range(0..3_000);
                    let mut due: Vec<u32> =
                        model.iter().filter(|m| m.0 <= now).map(|m| m.1).collect();
                    due.sort_unstable();
                    model.retain(|m| m.0 > now);
                    assert_eq!(expire(&mut wheel, now), due);
                    if let Some(next) = wheel.next_deadline() {
                        let earliest = model.iter().map(|m| m.0).min().unwrap();
                        assert!(next <= earliest, "next {next} after earliest {earliest}");
                    }
                }
            }
            assert_eq!(wheel.len(), model.len());
        }
    }
}
