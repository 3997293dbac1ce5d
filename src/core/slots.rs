//! A slab whose slots carry a generation, so stale keys are detected.

/// One slot: the generation it is at, and the value if occupied.
struct Slot<T> {
    /// Bumped every time the slot is vacated; a key is valid only while its
    /// generation matches.
    generation: u32,
    /// The occupant, or `None` while the slot is on the free list.
    value: Option<T>,
}

/// A key into [`Slots`]: an index and the generation it was issued at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// Index into the slot vector.
    pub index: u32,
    /// Generation of the slot when the key was issued.
    pub generation: u32,
}

impl Key {
    /// Packs the key into one word (used as the `mio::Token`).
    pub fn to_token(self) -> usize {
        // Both halves fit: `usize` is 64 bits on every platform mio's epoll
        // backend supports; `from_token` undoes this exactly.
        ((self.generation as usize) << 32) | self.index as usize
    }

    /// Unpacks a word made by [`Key::to_token`].
    pub fn from_token(token: usize) -> Self {
        Self {
            index: (token & 0xFFFF_FFFF) as u32,
            generation: (token >> 32) as u32,
        }
    }
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A table of values addressed by generational keys; free slots are reused
/// most-recently-freed first (warm in cache).
///
/// A slot whose generation reaches `u32::MAX` is retired instead of being
/// reused: its generation would otherwise wrap, and a stale key from four
/// billion lives ago would match the new occupant. Retiring costs one slot
/// per four billion closes in that slot, so ids can never be confused.
pub struct Slots<T> {
    /// All slots ever used; never shrinks.
    slots: Vec<Slot<T>>,
    /// Indices of vacant slots.
    free: Vec<u32>,
    /// Number of occupied slots.
    len: usize,
}

impl<T> Slots<T> {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// Number of occupied slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key the next [`insert`](Self::insert) will return.
    pub fn next_key(&self) -> Key {
        match self.free.last() {
            Some(&index) => Key {
                index,
                generation: self.slots[index as usize].generation,
            },
            None => Key {
                index: self.slots.len() as u32,
                generation: 0,
            },
        }
    }

    /// Stores `value` and returns its key (the one `next_key` announced).
    pub fn insert(&mut self, value: T) -> Key {
        let key = self.next_key();
        match self.free.pop() {
            Some(index) => self.slots[index as usize].value = Some(value),
            None => self.slots.push(Slot {
                generation: 0,
                value: Some(value),
            }),
        }
        self.len += 1;
        key
    }

    /// The value at `key`, if its generation still matches.
    pub fn get(&self, key: Key) -> Option<&T> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.generation == key.generation {
            slot.value.as_ref()
        } else {
            None
        }
    }

    /// The value under `key`, unless the key is stale or vacant.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation == key.generation {
            slot.value.as_mut()
        } else {
            None
        }
    }

    /// Removes and returns the value under `key`, bumping the slot's
    /// generation so the key (and every copy of it) goes stale.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        let value = slot.value.take()?;
        self.len -= 1;
        if slot.generation == u32::MAX {
            return Some(value); // retired: never handed out again
        }
        slot.generation += 1;
        self.free.push(key.index);
        Some(value)
    }

    /// Number of slots ever used: occupied slot indices are below this.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The key of the occupant of slot `index`, if it is occupied.
    pub fn key_at(&self, index: usize) -> Option<Key> {
        let slot = self.slots.get(index)?;
        slot.value.as_ref()?;
        Some(Key {
            // Indices come from `u32` keys, so they fit.
            index: index as u32,
            generation: slot.generation,
        })
    }

    /// Keys of all occupied slots.
    pub fn keys(&self) -> Vec<Key> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.value.is_some())
            .map(|(index, slot)| Key {
                index: index as u32,
                generation: slot.generation,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{Key, Slots};

    #[test]
    fn stale_key_misses_after_reuse() {
        let mut slots = Slots::new();
        let a = slots.insert("a");
        assert_eq!(slots.remove(a), Some("a"));
        let b = slots.insert("b");
        assert_eq!(a.index, b.index, "the slot is reused");
        assert!(slots.get_mut(a).is_none(), "stale key must miss");
        assert_eq!(slots.remove(a), None);
        assert_eq!(slots.get_mut(b).copied(), Some("b"));
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn next_key_predicts_insert() {
        let mut slots = Slots::new();
        for i in 0..5 {
            let predicted = slots.next_key();
            assert_eq!(slots.insert(i), predicted);
        }
        let third = Key {
            index: 2,
            generation: 0,
        };
        slots.remove(third);
        let predicted = slots.next_key();
        assert_eq!(predicted.index, 2);
        assert_eq!(predicted.generation, 1);
        assert_eq!(slots.insert(9), predicted);
        assert_eq!(slots.keys().len(), 5);
    }

    #[test]
    fn an_exhausted_slot_is_retired_not_wrapped() {
        let mut slots = Slots::new();
        let first = slots.insert(1);
        slots.slots[0].generation = u32::MAX;
        let last = Key {
            index: first.index,
            generation: u32::MAX,
        };
        assert_eq!(slots.remove(last), Some(1));
        let next = slots.insert(2);
        assert_ne!(next.index, first.index, "the exhausted slot is not reused");
        assert!(slots.get_mut(first).is_none());
        assert!(slots.get_mut(last).is_none());
    }

    #[test]
    fn token_round_trips() {
        let key = Key {
            index: 123_456,
            generation: u32::MAX,
        };
        assert_eq!(Key::from_token(key.to_token()), key);
    }
}
