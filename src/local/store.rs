//! redb persistence of the control plane's records (JSON values by key, one
//! table per record kind) under `--data-dir`.

use super::state::{Change, State, Table};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

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
    db: redb::Database,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        let db = redb::Database::create(dir.join("ecs-local.redb")).map_err(redb::Error::from)?;
        // Create every table up front so that reads never meet a missing one.
        let txn = db.begin_write().map_err(redb::Error::from)?;
        for t in Table::ALL {
            txn.open_table(def(t)).map_err(redb::Error::from)?;
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(Self { db })
    }

    pub fn load(&self) -> Result<State, StoreError> {
        let mut state = State::default();
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        for t in Table::ALL {
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
}
