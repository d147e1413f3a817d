//! The store every API keeps its data in: items in insertion order (the order vendors list them
//! in), a unique key per item, a per-store cap on items, and one [`Budget`] of items and bytes
//! shared by every store of a mock. When the budget is spent, an insert is either refused (the
//! API answers in its own envelope) or makes room by evicting this store's oldest items, as
//! [`WhenFull`] says. A poisoned lock is recovered, never propagated: every write completes
//! under one guard, so the data behind it is consistent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a full store does with one more item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Refuse it: the API answers with its own error, and nothing changes.
    #[default]
    Refuse,
    /// Evict the store's oldest items until it fits (about 1% of the store at a time, so a full
    /// store does not pay a re-index per insert).
    EvictOldest,
}

/// The limits every store of one mock shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreLimits {
    /// Items held by all stores together.
    pub max_items: usize,
    /// Approximate bytes held by all stores together (see [`Weigh`]).
    pub max_bytes: usize,
    pub when_full: WhenFull,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_items: 1_000_000,
            max_bytes: 512 * 1024 * 1024,
            when_full: WhenFull::Refuse,
        }
    }
}

/// The items and bytes the stores of one mock hold, against their shared limits.
#[derive(Debug)]
pub struct Budget {
    limits: StoreLimits,
    items: AtomicUsize,
    bytes: AtomicUsize,
}

impl Budget {
    pub fn new(limits: StoreLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            items: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        })
    }

    /// A budget with no practical limit (for stores outside a mock).
    pub fn unlimited() -> Arc<Self> {
        Self::new(StoreLimits {
            max_items: usize::MAX,
            max_bytes: usize::MAX,
            when_full: WhenFull::Refuse,
        })
    }

    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// Items held by every store now.
    pub fn items(&self) -> usize {
        self.items.load(Ordering::Relaxed)
    }

    /// Approximate bytes held by every store now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Take room for `items` items of `bytes` bytes, all or nothing.
    fn take(&self, items: usize, bytes: usize) -> bool {
        let fits = |held: usize, more: usize, max: usize| held.saturating_add(more) <= max;
        let took_items = self
            .items
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                fits(held, items, self.limits.max_items).then(|| held + items)
            })
            .is_ok();
        if !took_items {
            return false;
        }
        let took_bytes = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                fits(held, bytes, self.limits.max_bytes).then(|| held + bytes)
            })
            .is_ok();
        if !took_bytes {
            self.items.fetch_sub(items, Ordering::AcqRel);
        }
        took_bytes
    }

    fn give_back(&self, items: usize, bytes: usize) {
        self.items.fetch_sub(items, Ordering::AcqRel);
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// The approximate memory an item holds, for the byte budget.
pub trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for Value {
    /// The JSON text's size plus a per-node overhead for the tree that holds it.
    fn weight(&self) -> usize {
        const NODE: usize = 32;
        let mut total = 0usize;
        let mut stack = vec![self];
        while let Some(value) = stack.pop() {
            total = total.saturating_add(NODE);
            match value {
                Value::String(s) => total = total.saturating_add(s.len()),
                Value::Array(items) => stack.extend(items.iter()),
                Value::Object(map) => {
                    for (key, v) in map {
                        total = total.saturating_add(key.len() + NODE);
                        stack.push(v);
                    }
                }
                _ => {}
            }
        }
        total
    }
}

impl<T: Weigh> Weigh for Arc<T> {
    fn weight(&self) -> usize {
        (**self).weight()
    }
}

/// What the store itself holds per item besides the item and its key: the key's end offset,
/// the item's weight and its hash-index entry (see [`Indexed`]). Counted in the byte budget.
pub const ENTRY_OVERHEAD: usize = 32;

/// The weight an item of `item_weight` under a key of `key_len` bytes takes from the budget.
pub fn entry_weight(key_len: usize, item_weight: usize) -> usize {
    item_weight
        .saturating_add(key_len)
        .saturating_add(ENTRY_OVERHEAD)
        .min(u32::MAX as usize)
}

/// A hasher for keys that are already hashes (the index's `u64`s): it passes them through.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else is folded in, for correctness' sake.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex = HashMap<u64, u64, std::hash::BuildHasherDefault<PassThrough>>;

/// Items by key, in insertion order.
///
/// Each key is held once: the keys are one text (`key_text`, item `i`'s key ending at
/// `key_ends[i]`), and the index maps a key's hash to the item's sequence number (its position
/// plus the items evicted before it, `first`), so an eviction re-indexes nothing. Two keys whose
/// hashes collide (the hasher is seeded per store) are told apart by their text: the later one
/// goes to `collided`, a map by key text.
#[derive(Debug)]
pub struct Indexed<T> {
    items: Vec<T>,
    key_text: String,
    key_ends: Vec<usize>,
    weights: Vec<u32>,
    index: HashIndex,
    collided: HashMap<Box<str>, u64>,
    hasher: std::collections::hash_map::RandomState,
    /// Applied to every hash (all bits but in tests, which force collisions with it).
    hash_mask: u64,
    /// The sequence number of `items[0]`.
    first: u64,
    bytes: usize,
    capacity: usize,
    budget: Arc<Budget>,
}

impl<T: Weigh> Indexed<T> {
    fn new(capacity: usize, budget: Arc<Budget>) -> Self {
        Self {
            items: Vec::new(),
            key_text: String::new(),
            key_ends: Vec::new(),
            weights: Vec::new(),
            index: HashIndex::default(),
            collided: HashMap::new(),
            hasher: std::collections::hash_map::RandomState::new(),
            hash_mask: u64::MAX,
            first: 0,
            bytes: 0,
            capacity,
            budget,
        }
    }

    fn hash(&self, key: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, key) & self.hash_mask
    }

    /// The key of the item at `position`.
    fn key_at(&self, position: usize) -> &str {
        let start = match position {
            0 => 0,
            p => self.key_ends[p - 1],
        };
        &self.key_text[start..self.key_ends[position]]
    }

    /// Where the item under `key` is.
    fn position(&self, key: &str) -> Option<usize> {
        let found = self
            .index
            .get(&self.hash(key))
            .map(|&seq| (seq - self.first) as usize)
            .filter(|&p| self.key_at(p) == key);
        found.or_else(|| {
            if self.collided.is_empty() {
                return None;
            }
            self.collided
                .get(key)
                .map(|&seq| (seq - self.first) as usize)
        })
    }

    /// Store `item` under `key`. Refused (and nothing changes) when the key is taken, or when
    /// the store or the shared budget is full and the budget says to refuse; with
    /// [`WhenFull::EvictOldest`] the oldest items of this store make room instead.
    pub fn insert(&mut self, key: String, item: T) -> Result<(), Refused> {
        if self.position(&key).is_some() {
            return Err(Refused::DuplicateKey(key));
        }
        let weight = entry_weight(key.len(), item.weight());
        loop {
            let own_room = self.items.len() < self.capacity;
            if own_room && self.budget.take(1, weight) {
                break;
            }
            let limits = self.budget.limits();
            if limits.when_full == WhenFull::Refuse || self.items.is_empty() {
                return Err(if own_room {
                    Refused::OverBudget {
                        max_items: limits.max_items,
                        max_bytes: limits.max_bytes,
                    }
                } else {
                    Refused::Full(self.capacity)
                });
            }
            self.evict_oldest((self.items.len() / 100).max(1));
        }
        let seq = self.first + self.items.len() as u64;
        match self.index.entry(self.hash(&key)) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(seq);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(key.as_str().into(), seq);
            }
        }
        self.items.push(item);
        self.key_text.push_str(&key);
        self.key_ends.push(self.key_text.len());
        self.weights.push(weight as u32);
        self.bytes += weight;
        Ok(())
    }

    /// Drop the `count` oldest items.
    fn evict_oldest(&mut self, count: usize) {
        let count = count.min(self.items.len());
        if count == 0 {
            return;
        }
        for position in 0..count {
            let seq = self.first + position as u64;
            let key = self.key_at(position);
            let hash = self.hash(key);
            if self.index.get(&hash) == Some(&seq) {
                self.index.remove(&hash);
            } else {
                let key: Box<str> = key.into();
                self.collided.remove(&key);
            }
        }
        let cut = self.key_ends[count - 1];
        self.key_text.drain(..cut);
        self.key_ends.drain(..count);
        for end in &mut self.key_ends {
            *end -= cut;
        }
        let freed: usize = self.weights.drain(..count).map(|w| w as usize).sum();
        self.items.drain(..count);
        self.first += count as u64;
        self.bytes -= freed;
        self.budget.give_back(count, freed);
    }

    pub fn get(&self, key: &str) -> Option<&T> {
        self.position(key).and_then(|i| self.items.get(i))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Every item, oldest first.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Can `more` items still be stored under this store's own cap (and, when the budget
    /// refuses rather than evicts, under the shared item cap)?
    pub fn has_room_for(&self, more: usize) -> bool {
        let own = self.items.len().saturating_add(more) <= self.capacity;
        let limits = self.budget.limits();
        let shared = limits.when_full == WhenFull::EvictOldest
            || self.budget.items().saturating_add(more) <= limits.max_items;
        own && shared
    }

    /// Can `more` items of `bytes` bytes in all (each as [`entry_weight`] counts it) be stored
    /// without refusal or eviction: under this store's cap and the shared budget (when the
    /// budget refuses rather than evicts)?
    pub fn has_room(&self, more: usize, bytes: usize) -> bool {
        let limits = self.budget.limits();
        self.has_room_for(more)
            && (limits.when_full == WhenFull::EvictOldest
                || self.budget.bytes().saturating_add(bytes) <= limits.max_bytes)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Approximate bytes this store holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn clear(&mut self) {
        self.budget.give_back(self.items.len(), self.bytes);
        // New, empty collections: the old allocations are released, not kept for reuse.
        self.items = Vec::new();
        self.key_text = String::new();
        self.key_ends = Vec::new();
        self.weights = Vec::new();
        self.index = HashIndex::default();
        self.collided = HashMap::new();
        self.first = 0;
        self.bytes = 0;
    }
}

impl<T> Drop for Indexed<T> {
    fn drop(&mut self) {
        self.budget.give_back(self.items.len(), self.bytes);
    }
}

/// Why an insert was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("an item with key '{0}' is already stored")]
    DuplicateKey(String),
    #[error("the store holds at most {0} items")]
    Full(usize),
    #[error("the mock's stores hold at most {max_items} items and {max_bytes} bytes together")]
    OverBudget { max_items: usize, max_bytes: usize },
}

/// A shared, locked [`Indexed`] store.
#[derive(Debug)]
pub struct Store<T> {
    inner: RwLock<Indexed<T>>,
}

impl<T: Weigh> Store<T> {
    /// A store of at most `capacity` items, drawing on the mock's shared `budget`.
    pub fn new(capacity: usize, budget: Arc<Budget>) -> Self {
        Self {
            inner: RwLock::new(Indexed::new(capacity, budget)),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Indexed<T>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Indexed<T>> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Forget every item and release the memory that held them.
    pub fn clear(&self) {
        self.write().clear();
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits(max_items: usize, max_bytes: usize, when_full: WhenFull) -> Arc<Budget> {
        Budget::new(StoreLimits {
            max_items,
            max_bytes,
            when_full,
        })
    }

    #[test]
    fn keys_are_unique_order_is_kept_and_the_cap_holds() {
        let store = Store::new(2, Budget::unlimited());
        store.write().insert("a".into(), json!(1)).unwrap();
        assert_eq!(
            store.write().insert("a".into(), json!(9)),
            Err(Refused::DuplicateKey("a".into()))
        );
        store.write().insert("b".into(), json!(2)).unwrap();
        assert_eq!(
            store.write().insert("c".into(), json!(3)),
            Err(Refused::Full(2))
        );
        assert_eq!(store.read().items(), &[json!(1), json!(2)]);
        assert_eq!(store.read().get("b"), Some(&json!(2)));
        assert!(!store.read().has_room_for(1));
        store.clear();
        assert!(store.is_empty());
        assert!(store.read().has_room_for(2));
    }

    #[test]
    fn the_byte_budget_is_shared_and_refuses_when_spent() {
        let budget = limits(100, 1_000, WhenFull::Refuse);
        let a = Store::new(100, budget.clone());
        let b = Store::new(100, budget.clone());
        let big = json!("x".repeat(600));
        a.write().insert("1".into(), big.clone()).unwrap();
        assert!(matches!(
            b.write().insert("1".into(), big.clone()),
            Err(Refused::OverBudget { .. })
        ));
        assert_eq!(b.len(), 0);
        a.clear();
        assert_eq!((budget.items(), budget.bytes()), (0, 0));
        b.write().insert("1".into(), big).unwrap();
        drop(b);
        assert_eq!(
            (budget.items(), budget.bytes()),
            (0, 0),
            "a dropped store gives its share back"
        );
    }

    #[test]
    fn colliding_hashes_are_told_apart_by_their_keys() {
        let budget = limits(50, usize::MAX, WhenFull::EvictOldest);
        let mut store = Indexed::new(1_000, budget.clone());
        // Four hashes for every key: most keys collide.
        store.hash_mask = 0b11;
        for i in 0..200 {
            store.insert(format!("k{i}"), json!(i)).unwrap();
            assert!(matches!(
                store.insert(format!("k{i}"), json!(-1)),
                Err(Refused::DuplicateKey(_))
            ));
        }
        // 150 evicted, 50 kept, each found by its own key.
        assert_eq!(store.len(), 50);
        for i in 0..200 {
            let found = store.get(&format!("k{i}"));
            assert_eq!(found, (i >= 150).then(|| json!(i)).as_ref(), "k{i}");
        }
        // Evicted keys can be stored again; kept ones still cannot.
        store.insert("k3".into(), json!(3)).unwrap();
        assert!(store.insert("k199".into(), json!(0)).is_err());
        assert_eq!(store.get("k3"), Some(&json!(3)));
        assert_eq!(budget.items(), 50);
        assert_eq!(budget.bytes(), store.bytes());
        store.clear();
        assert_eq!((budget.items(), budget.bytes()), (0, 0));
        assert!(store.get("k3").is_none());
    }

    #[test]
    fn an_item_weighs_its_key_and_entry_too() {
        let budget = Budget::unlimited();
        let store = Store::new(10, budget.clone());
        store.write().insert("abc".into(), json!("x")).unwrap();
        assert_eq!(
            budget.bytes(),
            json!("x").weight() + "abc".len() + ENTRY_OVERHEAD
        );
        assert_eq!(store.read().bytes(), budget.bytes());
    }

    #[test]
    fn a_full_store_evicts_its_oldest_when_told_to() {
        let budget = limits(3, usize::MAX, WhenFull::EvictOldest);
        let store = Store::new(10, budget.clone());
        for i in 0..5 {
            store.write().insert(i.to_string(), json!(i)).unwrap();
        }
        let kept: Vec<Value> = store.read().items().to_vec();
        assert_eq!(kept, vec![json!(2), json!(3), json!(4)]);
        assert_eq!(store.read().get("4"), Some(&json!(4)));
        assert_eq!(store.read().get("0"), None);
        assert_eq!(budget.items(), 3);
        // An item larger than the whole budget is still refused.
        let tiny = limits(10, 64, WhenFull::EvictOldest);
        let store = Store::new(10, tiny);
        assert!(store
            .write()
            .insert("big".into(), json!("y".repeat(100)))
            .is_err());
    }
}
