//! The store every API keeps its data in: items in insertion order (the order vendors list them
//! in), a unique key per item, and a cap on how many it holds. A poisoned lock is recovered,
//! never propagated: the data behind it is still consistent because every write completes
//! under one guard.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Items by key, in insertion order.
#[derive(Debug)]
pub struct Indexed<T> {
    items: Vec<T>,
    positions: HashMap<String, usize>,
    capacity: usize,
}

impl<T> Indexed<T> {
    fn new(capacity: usize) -> Self {
        Self {
            items: Vec::new(),
            positions: HashMap::new(),
            capacity,
        }
    }

    /// Store `item` under `key`; refused (and nothing changes) when the key is taken or the
    /// store is full.
    pub fn insert(&mut self, key: String, item: T) -> Result<(), Refused> {
        if self.positions.contains_key(&key) {
            return Err(Refused::DuplicateKey(key));
        }
        if self.items.len() >= self.capacity {
            return Err(Refused::Full(self.capacity));
        }
        self.positions.insert(key, self.items.len());
        self.items.push(item);
        Ok(())
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

    /// Can `more` items still be stored?
    pub fn has_room_for(&self, more: usize) -> bool {
        self.items.len().saturating_add(more) <= self.capacity
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn clear(&mut self) {
        self.items = Vec::new();
        self.positions = HashMap::new();
    }
}

/// Why an insert was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("an item with key '{0}' is already stored")]
    DuplicateKey(String),
    #[error("the store holds at most {0} items")]
    Full(usize),
}

/// A shared, locked [`Indexed`] store.
#[derive(Debug)]
pub struct Store<T> {
    inner: RwLock<Indexed<T>>,
}

impl<T> Store<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: RwLock::new(Indexed::new(capacity)),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Indexed<T>> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Indexed<T>> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Forget every item.
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

    #[test]
    fn keys_are_unique_order_is_kept_and_the_cap_holds() {
        let store = Store::new(2);
        store.write().insert("a".into(), 1).unwrap();
        assert_eq!(
            store.write().insert("a".into(), 9),
            Err(Refused::DuplicateKey("a".into()))
        );
        store.write().insert("b".into(), 2).unwrap();
        assert_eq!(store.write().insert("c".into(), 3), Err(Refused::Full(2)));
        assert_eq!(store.read().items(), &[1, 2]);
        assert_eq!(store.read().get("b"), Some(&2));
        assert!(!store.read().has_room_for(1));
        store.clear();
        assert!(store.is_empty());
        assert!(store.read().has_room_for(2));
    }
}
