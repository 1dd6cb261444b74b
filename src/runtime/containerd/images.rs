//! Image records through containerd's Images service.

use std::path::PathBuf;

use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::introspection_client::IntrospectionClient;
use containerd_client::services::v1::{DeleteImageRequest, ListImagesRequest, PluginsRequest};
use tonic::Code;

use super::error::from_status;
use super::ContainerdRuntime;
use crate::runtime::images::{ImageRecord, ImageStore};
use crate::runtime::RuntimeError;

impl ImageStore for ContainerdRuntime {
    async fn list_images(&self) -> Result<Vec<ImageRecord>, RuntimeError> {
        let conn = self.conn();
        let resp = ImagesClient::new(conn.channel())
            .list(conn.request(ListImagesRequest { filters: vec![] }))
            .await
            .map_err(|s| {
                from_status(s, |kind, message| RuntimeError::State {
                    id: "images".into(),
                    kind,
                    message,
                })
            })?;
        Ok(resp
            .into_inner()
            .images
            .into_iter()
            .map(|i| ImageRecord {
                created_at_ms: i
                    .created_at
                    .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
                    .unwrap_or(0),
                name: i.name,
            })
            .collect())
    }

    async fn remove_image(&self, name: &str) -> Result<(), RuntimeError> {
        let conn = self.conn();
        // sync: containerd collects garbage before answering, so the content is gone too.
        let req = DeleteImageRequest {
            name: name.to_string(),
            sync: true,
            ..Default::default()
        };
        match ImagesClient::new(conn.channel())
            .delete(conn.request(req))
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if s.code() == Code::NotFound => Ok(()),
            Err(s) => Err(from_status(s, |kind, message| RuntimeError::Remove {
                id: name.to_string(),
                kind,
                message,
            })),
        }
    }

    async fn image_filesystem(&self) -> Result<Option<PathBuf>, RuntimeError> {
        let conn = self.conn();
        // The content plugin exports its root (…/io.containerd.content.v1.content),
        // on the filesystem of containerd's root, where the snapshots live too.
        let resp = IntrospectionClient::new(conn.channel())
            .plugins(conn.request(PluginsRequest {
                filters: vec!["type==io.containerd.content.v1".into()],
            }))
            .await
            .map_err(|s| {
                from_status(s, |kind, message| RuntimeError::Introspect {
                    kind,
                    message,
                })
            })?;
        Ok(resp
            .into_inner()
            .plugins
            .into_iter()
            .find_map(|p| p.exports.get("root").map(PathBuf::from)))
    }
}
