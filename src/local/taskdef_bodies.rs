//! The full task definitions (the registration request with ECS's defaults
//! filled in, up to 64 KiB each), kept in redb rather than in memory.
//!
//! Amazon ECS keeps every revision describable, INACTIVE ones included, so
//! revisions are never dropped; holding each one as parsed JSON in memory
//! cost ~1.5 MB of RSS per 64 KiB definition, which grew without bound under
//! register/deregister churn. Memory holds only the small `TaskDefRec`
//! (what listing, lookups and placement need); a body is read back when a
//! describe, a RunTask or a payload needs it. A body is written once, in the
//! transaction that registers its revision, and never changes.

use redb::{ReadableDatabase, TableDefinition};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Bodies by `family:revision` (the key of the revision's `TaskDefRec`).
pub const TABLE_NAME: &str = "task_definition_bodies";

fn table() -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(TABLE_NAME)
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("task definition {0} has no stored body")]
    Missing(String),
    #[error("reading task definition {key}: {source}")]
    Redb {
        key: String,
        #[source]
        source: redb::Error,
    },
}

/// Where bodies are read from: the store, plus the ones registered in the
/// transaction under way (not yet committed). Without a store (unit tests of
/// the handlers) every body stays in `unsaved`.
#[derive(Default)]
pub struct Bodies {
    db: Option<Arc<redb::Database>>,
    unsaved: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Bodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bodies")
            .field("persistent", &self.db.is_some())
            .field("unsaved", &self.unsaved.len())
            .finish()
    }
}

impl Bodies {
    pub fn persistent(db: Arc<redb::Database>) -> Self {
        Self {
            db: Some(db),
            unsaved: BTreeMap::new(),
        }
    }

    /// A new revision's body (serialized JSON of the definition).
    pub fn put(&mut self, key: String, body: Vec<u8>) {
        self.unsaved.insert(key, body);
    }

    /// The bytes to write for `key`: moved out when there is a store (it
    /// holds them from the commit on), copied when there is none.
    pub fn take_for_write(&mut self, key: &str) -> Option<Vec<u8>> {
        if self.db.is_some() {
            self.unsaved.remove(key)
        } else {
            self.unsaved.get(key).cloned()
        }
    }

    /// Calls `f` with the stored body of `key`.
    pub fn with<T>(&self, key: &str, f: impl FnOnce(&[u8]) -> T) -> Result<T, BodyError> {
        if let Some(b) = self.unsaved.get(key) {
            return Ok(f(b));
        }
        let db = self
            .db
            .as_ref()
            .ok_or_else(|| BodyError::Missing(key.to_string()))?;
        let redb_err = |e: redb::Error| BodyError::Redb {
            key: key.to_string(),
            source: e,
        };
        let txn = db.begin_read().map_err(|e| redb_err(e.into()))?;
        let t = txn.open_table(table()).map_err(|e| redb_err(e.into()))?;
        let row = t
            .get(key)
            .map_err(|e| redb_err(e.into()))?
            .ok_or_else(|| BodyError::Missing(key.to_string()))?;
        Ok(f(row.value()))
    }
}
