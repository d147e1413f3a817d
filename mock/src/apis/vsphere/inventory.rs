//! The managed-entity inventory: what an EntityEventArgument, an EventEx objectType or a filter's
//! entity may name, and the tree that entity recursion (self, children, all) walks.

use std::collections::HashMap;

use serde_json::Value;

use super::config::InventoryObject;

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    by_id: HashMap<String, InventoryObject>,
    /// In the order given, for the control plane.
    order: Vec<String>,
}

/// Entity recursion of `EventFilterSpecByEntity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recursion {
    /// The entity only.
    SelfOnly,
    /// Its immediate children, not the entity itself.
    Children,
    /// The entity and all its descendants.
    All,
}

impl Recursion {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "self" => Some(Self::SelfOnly),
            "children" => Some(Self::Children),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}

impl Inventory {
    /// Build from a list; ids must be unique and parents must exist.
    pub fn new(objects: &[InventoryObject]) -> Result<Self, String> {
        let mut inventory = Self::default();
        for object in objects {
            if object.mo_type.is_empty() || object.value.is_empty() {
                return Err("an inventory object needs a type and a value".into());
            }
            if inventory
                .by_id
                .insert(object.value.clone(), object.clone())
                .is_some()
            {
                return Err(format!(
                    "inventory object '{}' is listed twice",
                    object.value
                ));
            }
            inventory.order.push(object.value.clone());
        }
        for object in objects {
            if let Some(parent) = &object.parent {
                if !inventory.by_id.contains_key(parent) {
                    return Err(format!(
                        "inventory object '{}' names an unknown parent '{parent}'",
                        object.value
                    ));
                }
            }
        }
        Ok(inventory)
    }

    pub fn objects(&self) -> Vec<&InventoryObject> {
        self.order
            .iter()
            .filter_map(|id| self.by_id.get(id))
            .collect()
    }

    /// The object a MoRef names, if its type matches too.
    pub fn resolve(&self, moref: &Value) -> Option<&InventoryObject> {
        let mo_type = moref.get("type")?.as_str()?;
        let value = moref.get("value")?.as_str()?;
        self.find(mo_type, value)
    }

    pub fn find(&self, mo_type: &str, value: &str) -> Option<&InventoryObject> {
        self.by_id.get(value).filter(|o| o.mo_type == mo_type)
    }

    /// Does the entity `id` fall under `target` with `recursion`?
    pub fn covers(&self, target: &str, recursion: Recursion, id: &str) -> bool {
        match recursion {
            Recursion::SelfOnly => id == target,
            Recursion::Children => self.parent_of(id) == Some(target),
            Recursion::All => {
                let mut current = Some(id);
                // Bounded by the inventory's size, so a cycle cannot loop forever.
                for _ in 0..=self.by_id.len() {
                    match current {
                        Some(c) if c == target => return true,
                        Some(c) => current = self.parent_of(c),
                        None => return false,
                    }
                }
                false
            }
        }
    }

    fn parent_of(&self, id: &str) -> Option<&str> {
        self.by_id.get(id)?.parent.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::default_inventory;
    use super::*;

    #[test]
    fn recursion_walks_the_tree() {
        let inventory = Inventory::new(&default_inventory()).unwrap();
        assert!(inventory.covers("datacenter-2", Recursion::All, "host-10"));
        assert!(!inventory.covers("datacenter-2", Recursion::Children, "host-10"));
        assert!(inventory.covers("domain-c7", Recursion::Children, "host-10"));
        assert!(!inventory.covers("domain-c7", Recursion::Children, "domain-c7"));
        assert!(inventory.covers("vm-20", Recursion::SelfOnly, "vm-20"));
        assert!(!inventory.covers("vm-20", Recursion::SelfOnly, "vm-21"));
    }

    #[test]
    fn bad_inventories_are_refused() {
        let mut objects = default_inventory();
        objects.push(objects[1].clone());
        assert!(Inventory::new(&objects).is_err());
        let mut orphan = default_inventory();
        orphan[1].parent = Some("nowhere".into());
        assert!(Inventory::new(&orphan).is_err());
    }
}
