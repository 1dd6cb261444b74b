//! redb persistence of the control plane's records (JSON values by key, one
//! table per record kind) under `--data-dir`.

use super::state::{Change, State, Table};
use super::taskdef_bodies::Bodies;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::Arc;

/// redb's page cache (its default is 1 GiB). Records are loaded into memory
/// at start and task definition bodies are read one at a time, so a small
/// cache costs nothing, and a large one would keep every body read or
/// written since start in memory.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("creating data dir {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    #[error("stored record {table}/{key} is corrupt: {source}")]
    Corrupt {
        table: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("serializing a record: {0}")]
    Serialize(#[from] serde_json::Error),
}

fn def(table: Table) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(table.name())
}

pub struct Store {
    db: Arc<redb::Database>,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join("ecs-local.redb"))
            .map_err(redb::Error::from)?;
        // Create every table up front so that reads never meet a missing one.
        let txn = db.begin_write().map_err(redb::Error::from)?;
        for t in Table::ALL {
            txn.open_table(def(t)).map_err(redb::Error::from)?;
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(Self { db: Arc::new(db) })
    }

    pub fn load(&self) -> Result<State, StoreError> {
        let mut state = State::default();
        state.bodies = Bodies::persistent(self.db.clone());
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        // Bodies are read when needed, not held in memory.
        for t in Table::ALL
            .into_iter()
            .filter(|t| *t != Table::TaskDefBodies)
        {
            let table = txn.open_table(def(t)).map_err(redb::Error::from)?;
            for row in table.iter().map_err(redb::Error::from)? {
                let (k, v) = row.map_err(redb::Error::from)?;
                state
                    .load_record(t, k.value(), v.value())
                    .map_err(|source| StoreError::Corrupt {
                        table: t.name(),
                        key: k.value().to_string(),
                        source,
                    })?;
            }
        }
        Ok(state)
    }

    pub fn write(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(redb::Error::from)?;
        for (t, key, value) in changes {
            let mut table = txn.open_table(def(*t)).map_err(redb::Error::from)?;
            match value {
                Some(bytes) => {
                    table
                        .insert(key.as_str(), bytes.as_slice())
                        .map_err(redb::Error::from)?;
                }
                None => {
                    table.remove(key.as_str()).map_err(redb::Error::from)?;
                }
            }
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::state::ClusterRec;

    #[test]
    fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let mut st = store.load().unwrap();
            st.put_cluster(ClusterRec {
                arn: "arn:c".into(),
                name: "c".into(),
                status: "ACTIVE".into(),
                tags: vec![],
                settings: vec![],
            });
            st.count_duplicate("arn:c");
            store.write(&st.take_changes().unwrap()).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let st = store.load().unwrap();
        assert_eq!(st.clusters["c"].arn, "arn:c");
        assert_eq!(st.meta.duplicate_state_changes, 1);
    }

    #[test]
    fn outbox_records_of_every_kind_round_trip_and_old_ones_load() {
        use crate::local::state::{OutMessage, Outgoing};
        use crate::model::acs::{IamRoleCredentialsMessage, PayloadMessage};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut st = store.load().unwrap();
        for (id, message) in [
            (
                "p",
                OutMessage::Payload(PayloadMessage {
                    seq_num: Some(3),
                    ..Default::default()
                }),
            ),
            (
                "c",
                OutMessage::Credentials(IamRoleCredentialsMessage {
                    role_type: Some("TaskApplication".into()),
                    ..Default::default()
                }),
            ),
        ] {
            st.put_outgoing(Outgoing {
                message_id: id.into(),
                instance_arn: "i".into(),
                task_arn: "t".into(),
                order: 1,
                message,
            });
        }
        store.write(&st.take_changes().unwrap()).unwrap();
        // A record as written before messages other than payloads existed.
        let old = br#"{"messageId":"old","instanceArn":"i","taskArn":"t","payload":{"seqNum":2,"messageId":"old"}}"#;
        st.load_record(Table::Outbox, "old", old).unwrap();
        assert_eq!(st.outbox["old"].payload().unwrap().seq_num, Some(2));
        assert_eq!(st.outbox["old"].order, 0);
        let back = store.load().unwrap();
        assert_eq!(back.outbox["p"], st.outbox["p"]);
        assert_eq!(back.outbox["c"], st.outbox["c"]);
    }

    #[test]
    fn task_definition_bodies_are_stored_apart_and_inline_ones_move_there() {
        use crate::local::state::{taskdef_key, TaskDefRec};
        let dir = tempfile::tempdir().unwrap();
        let rec = |revision| TaskDefRec {
            arn: format!("arn:td/f:{revision}"),
            family: "f".into(),
            revision,
            status: "INACTIVE".into(),
            registered_at: 1.0,
            deregistered_at: Some(2.0),
            requires_attributes: vec![],
            tags: vec![],
        };
        {
            let store = Store::open(dir.path()).unwrap();
            let mut st = store.load().unwrap();
            st.put_taskdef(rec(1));
            st.put_taskdef_body(
                &taskdef_key("f", 1),
                br#"{"family":"f","cpu":"1"}"#.to_vec(),
            );
            store.write(&st.take_changes().unwrap()).unwrap();
            // Handed to the store, not kept.
            assert!(format!("{:?}", st.bodies).contains("unsaved: 0"));
            // A record as written before bodies had their own table.
            let mut old = serde_json::to_value(rec(2)).unwrap();
            old["definition"] = serde_json::json!({"family": "f", "cpu": "2"});
            let old = serde_json::to_vec(&old).unwrap();
            store
                .write(&[(Table::TaskDefs, taskdef_key("f", 2), Some(old))])
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let mut st = store.load().unwrap();
        store.write(&st.take_changes().unwrap()).unwrap();
        let cpu = |st: &State, rev| {
            st.bodies
                .with(&taskdef_key("f", rev), |b| {
                    serde_json::from_slice::<serde_json::Value>(b).unwrap()["cpu"].clone()
                })
                .unwrap()
        };
        assert_eq!(cpu(&st, 1), "1");
        assert_eq!(cpu(&st, 2), "2");
        assert_eq!(st.taskdefs[&taskdef_key("f", 2)], rec(2));
        // The migrated record no longer holds its definition.
        let txn = store.db.begin_read().unwrap();
        let t = txn.open_table(def(Table::TaskDefs)).unwrap();
        let raw = t.get(taskdef_key("f", 2).as_str()).unwrap().unwrap();
        assert!(!String::from_utf8_lossy(raw.value()).contains("definition"));
        drop((raw, t, txn, st, store));
        // And it still reads after another restart.
        let st = Store::open(dir.path()).unwrap().load().unwrap();
        assert_eq!(cpu(&st, 2), "2");
    }
}
