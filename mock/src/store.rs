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

/// Items by key, in insertion order.
#[derive(Debug)]
pub struct Indexed<T> {
    items: Vec<T>,
    keys: Vec<String>,
    weights: Vec<usize>,
    positions: HashMap<String, usize>,
    bytes: usize,
    capacity: usize,
    budget: Arc<Budget>,
}

impl<T: Weigh> Indexed<T> {
    fn new(capacity: usize, budget: Arc<Budget>) -> Self {
        Self {
            items: Vec::new(),
            keys: Vec::new(),
            weights: Vec::new(),
            positions: HashMap::new(),
            bytes: 0,
            capacity,
            budget,
        }
    }

    /// Store `item` under `key`. Refused (and nothing changes) when the key is taken, or when
    /// the store or the shared budget is full and the budget says to refuse; with
    /// [`WhenFull::EvictOldest`] the oldest items of this store make room instead.
    pub fn insert(&mut self, key: String, item: T) -> Result<(), Refused> {
        if self.positions.contains_key(&key) {
            return Err(Refused::DuplicateKey(key));
        }
        let weight = item.weight();
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
        self.positions.insert(key.clone(), self.items.len());
        self.items.push(item);
        self.keys.push(key);
        self.weights.push(weight);
        self.bytes += weight;
        Ok(())
    }

    /// Drop the `count` oldest items and re-index the rest.
    fn evict_oldest(&mut self, count: usize) {
        let count = count.min(self.items.len());
        let freed: usize = self.weights.drain(..count).sum();
        self.items.drain(..count);
        for key in self.keys.drain(..count) {
            self.positions.remove(&key);
        }
        for position in self.positions.values_mut() {
            *position -= count;
        }
        self.bytes -= freed;
        self.budget.give_back(count, freed);
    }

    pub fn get(&self, key: &str) -> Option<&T> {
        self.positions.get(key).and_then(|&i| self.items.get(i))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.positions.contains_key(key)
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

    /// Can `more` items of `bytes` bytes in all be stored without refusal or eviction: under
    /// this store's cap and the shared budget (when the budget refuses rather than evicts)?
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
        self.keys = Vec::new();
        self.weights = Vec::new();
        self.positions = HashMap::new();
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
