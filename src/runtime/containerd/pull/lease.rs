//! A containerd lease held across a pull: whatever the pull writes (blobs,
//! ingests, snapshots) is kept from GC until the image record references it.

use std::collections::HashMap;
use std::time::Duration;

use containerd_client::services::v1::leases_client::LeasesClient;
use containerd_client::services::v1::{AddResourceRequest, CreateRequest, DeleteRequest, Resource};
use time::format_description::well_known::Rfc3339;

use super::error::PullError;
use crate::runtime::containerd::Conn;

/// containerd drops an expired lease at its next GC, so a pull that dies
/// half-way does not pin its blobs forever. 24h as `ctr` uses.
pub const LEASE_EXPIRY: Duration = Duration::from_secs(24 * 60 * 60);
const LABEL_EXPIRE: &str = "containerd.io/gc.expire";

pub struct Lease {
    conn: Conn,
    id: String,
    deleted: bool,
}

impl Lease {
    pub async fn create(conn: &Conn, expiry: Duration) -> Result<Lease, PullError> {
        let id = format!("ecs-pull-{}", uuid::Uuid::new_v4());
        let expire_at = (time::OffsetDateTime::now_utc() + expiry)
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc() + expiry);
        let expire = expire_at
            .format(&Rfc3339)
            .map_err(|e| PullError::Containerd {
                op: "lease create",
                code: tonic::Code::Internal,
                message: format!("cannot format lease expiry: {e}"),
            })?;
        let labels = HashMap::from([(LABEL_EXPIRE.to_string(), expire)]);
        LeasesClient::new(conn.channel())
            .create(conn.request(CreateRequest {
                id: id.clone(),
                labels,
            }))
            .await
            .map_err(|s| PullError::grpc("lease create", s))?;
        tracing::debug!(lease = %id, "lease created");
        Ok(Lease {
            conn: conn.clone(),
            id,
            deleted: false,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Delete the lease. What it protected stays only if something else references it.
    pub async fn delete(mut self) -> Result<(), PullError> {
        self.deleted = true;
        delete(&self.conn, &self.id, false).await
    }

    /// Delete the lease of a failed pull and have containerd collect at
    /// once what only it held (committed layers of an image that never
    /// got a record, ingests, snapshots): nothing partial stays behind.
    pub async fn delete_collecting(mut self) -> Result<(), PullError> {
        self.deleted = true;
        delete(&self.conn, &self.id, true).await
    }
}

/// Put a blob that was already in the content store under the lease `id`:
/// until the image record references it, only the lease keeps it from GC
/// (another pull's failed lease, deleted with a synchronous collection, may
/// have been all that held it). containerd does this itself for a write
/// that finds the blob present; a pull that checks with Info first must ask.
pub async fn add_content(conn: &Conn, id: &str, digest: &str) -> Result<(), PullError> {
    LeasesClient::new(conn.channel())
        .add_resource(conn.request(AddResourceRequest {
            id: id.to_string(),
            resource: Some(Resource {
                id: digest.to_string(),
                r#type: "content".to_string(),
            }),
        }))
        .await
        .map_err(|s| PullError::grpc("lease add resource", s))?;
    Ok(())
}

async fn delete(conn: &Conn, id: &str, sync: bool) -> Result<(), PullError> {
    let res = LeasesClient::new(conn.channel())
        .delete(conn.request(DeleteRequest {
            id: id.to_string(),
            sync,
        }))
        .await;
    match res {
        Ok(_) => {
            tracing::debug!(lease = %id, "lease deleted");
            Ok(())
        }
        Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
        Err(s) => Err(PullError::grpc("lease delete", s)),
    }
}

impl Drop for Lease {
    // A cancelled pull (its future dropped) must not leave its lease for a day.
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let conn = self.conn.clone();
        let id = std::mem::take(&mut self.id);
        handle.spawn(async move {
            if let Err(e) = delete(&conn, &id, true).await {
                tracing::warn!(lease = %id, error = %e, "cannot delete lease of a cancelled pull; it expires by itself");
            }
        });
    }
}
