//! The images a runtime pulled or found lately, by name, so that the pull
//! of an image that is still what the registry and containerd have reads
//! two things from containerd (the image record's digest and the top
//! snapshot), while the registry is asked, instead of the record, manifest,
//! config and snapshot one after the other once the registry answered.
//! What is kept is content-addressed (a manifest digest, the chain id and
//! the config of that manifest), so it never goes stale: it is only trusted
//! while containerd's record still points at the same digest.

use std::collections::HashMap;
use std::sync::Mutex;

use containerd_client::types::Descriptor;

use super::error::PullError;
use super::{find, unpack};
use crate::runtime::containerd::Conn;
use crate::task::container::PulledImage;

/// A host runs few distinct images; past this many the memory is given
/// back and the next pull of each reads containerd once again.
const MAX_IMAGES: usize = 256;

#[derive(Default, Debug)]
pub struct Recent {
    images: Mutex<HashMap<String, PulledImage>>,
}

impl Recent {
    pub fn get(&self, name: &str) -> Option<PulledImage> {
        self.lock().get(name).cloned()
    }

    pub fn put(&self, image: &PulledImage) {
        let mut images = self.lock();
        if images.len() >= MAX_IMAGES && !images.contains_key(&image.name) {
            images.clear();
        }
        images.insert(image.name.clone(), image.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, PulledImage>> {
        self.images.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether containerd still has `known` as it was: its name's record points
/// at the same manifest and the top snapshot is unpacked in `snapshotter`;
/// and what the record points at (`None` without one), for a pull that must
/// look further. The record is read even with nothing known, so that a
/// containerd that is down is heard of at once, as before any pull. The
/// reads are independent and go out together.
pub(super) async fn still_there(
    conn: &Conn,
    snapshotter: &str,
    name: &str,
    known: Option<&PulledImage>,
) -> Result<(bool, Option<Descriptor>), PullError> {
    let record = find::record_target(conn, name);
    let unpacked = async {
        match known {
            Some(k) => unpack::exists(conn, snapshotter, &k.chain_id).await,
            None => Ok(false),
        }
    };
    let (record, unpacked) = tokio::join!(record, unpacked);
    let record = record?;
    let same = record
        .as_ref()
        .is_some_and(|t| known.is_some_and(|k| k.digest == t.digest));
    Ok((same && unpacked?, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::container::ImageConfig;

    fn image(name: &str, digest: &str) -> PulledImage {
        PulledImage {
            name: name.to_string(),
            digest: digest.to_string(),
            chain_id: format!("chain-of-{digest}"),
            config: ImageConfig::default(),
        }
    }

    #[test]
    fn keeps_the_last_image_of_each_name_and_stays_bounded() {
        let recent = Recent::default();
        assert_eq!(recent.get("a"), None);
        recent.put(&image("a", "sha256:1"));
        recent.put(&image("a", "sha256:2"));
        assert_eq!(recent.get("a"), Some(image("a", "sha256:2")));
        for i in 0..MAX_IMAGES {
            recent.put(&image(&format!("n{i}"), "sha256:3"));
        }
        assert!(recent.lock().len() <= MAX_IMAGES);
        // A name already kept is replaced without a clear.
        let last = format!("n{}", MAX_IMAGES - 1);
        recent.put(&image(&last, "sha256:4"));
        assert_eq!(recent.get(&last), Some(image(&last, "sha256:4")));
    }
}
