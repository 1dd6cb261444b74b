//! A pull's downloads and its unpack, side by side. The downloads report
//! each layer once its blob is committed (or found present); the unpacker
//! waits for the one it needs next. So layer N is applied as soon as it and
//! the layers below it are there, while later layers still download, as
//! containerd's Transfer service does (BENCHMARKS.md, row `pull-transfer`).

use std::future::Future;

use tokio::sync::mpsc;
use tonic::Code;

use super::error::PullError;

/// The downloads' side: report a layer as present. Dropped when the
/// downloads end, which tells a waiting unpacker that no more will come.
#[derive(Clone)]
pub struct Downloaded {
    tx: mpsc::UnboundedSender<usize>,
}

/// The unpacker's side.
pub struct Arrivals {
    rx: mpsc::UnboundedReceiver<usize>,
    present: Vec<bool>,
}

/// A pair for an image of `layers` layers.
pub fn channel(layers: usize) -> (Downloaded, Arrivals) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Downloaded { tx },
        Arrivals {
            rx,
            present: vec![false; layers],
        },
    )
}

impl Downloaded {
    /// Layer `index` is in the content store.
    pub fn layer(&self, index: usize) {
        // The unpacker gone (it failed, the pull ends) is not this side's
        // concern: the downloads are being cancelled too.
        let _ = self.tx.send(index);
    }
}

impl Arrivals {
    /// Waits until layer `index` is in the content store. False when the
    /// downloads ended without it: they failed, and say why themselves.
    pub async fn wait_for(&mut self, index: usize) -> bool {
        loop {
            if self.present.get(index).copied().unwrap_or(false) {
                return true;
            }
            match self.rx.recv().await {
                Some(i) => {
                    if let Some(p) = self.present.get_mut(i) {
                        *p = true;
                    }
                }
                None => return false,
            }
        }
    }
}

/// Runs `downloads` (bytes downloaded) and `unpack` (the top chain ID, or
/// `None` if the downloads ended without a layer it needed) side by side.
/// A failed download ends the unpack at its next wait for a layer, and its
/// error is the pull's; an Apply in flight finishes first, so that its
/// extraction snapshot is removed rather than left to GC while a next
/// attempt runs. A failed unpack drops the downloads at once (their ingests
/// abort themselves).
pub async fn side_by_side<D, U>(downloads: D, unpack: U) -> Result<(u64, String), PullError>
where
    D: Future<Output = Result<u64, PullError>>,
    U: Future<Output = Result<Option<String>, PullError>>,
{
    tokio::pin!(downloads, unpack);
    tokio::select! {
        downloaded = &mut downloads => {
            let unpacked = unpack.await;
            let bytes = downloaded?;
            Ok((bytes, unpacked?.ok_or_else(ended_early)?))
        }
        unpacked = &mut unpack => match unpacked? {
            Some(top) => Ok((downloads.await?, top)),
            None => {
                downloads.await?;
                Err(ended_early())
            }
        }
    }
}

/// Downloads that succeeded report every layer, so this is a bug of ours.
fn ended_early() -> PullError {
    PullError::Containerd {
        op: "layer unpack",
        code: Code::Internal,
        message: "the downloads ended without reporting every layer".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn layers_arriving_out_of_order_are_waited_for_in_order() {
        let (downloaded, mut arrivals) = channel(3);
        downloaded.layer(2);
        downloaded.layer(0);
        assert!(arrivals.wait_for(0).await);
        assert!(arrivals.wait_for(2).await);
        // Layer 1 has not arrived: the wait goes on until it does.
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), arrivals.wait_for(1)).await;
        assert!(waiting.is_err(), "layer 1 reported present before it came");
        downloaded.layer(1);
        assert!(arrivals.wait_for(1).await);
    }

    #[tokio::test]
    async fn downloads_that_end_without_a_layer_stop_the_wait() {
        let (downloaded, mut arrivals) = channel(2);
        let other = downloaded.clone();
        other.layer(0);
        drop(other);
        drop(downloaded);
        assert!(arrivals.wait_for(0).await);
        assert!(!arrivals.wait_for(1).await);
    }

    fn failed(op: &'static str) -> PullError {
        PullError::Containerd {
            op,
            code: Code::Unknown,
            message: "scripted failure".to_string(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_unpack_starts_before_the_downloads_end() {
        let (downloaded, mut arrivals) = channel(2);
        let first_applied = AtomicBool::new(false);
        let downloads = async {
            downloaded.layer(0);
            // The last layer is still downloading when the first is applied.
            tokio::time::sleep(Duration::from_secs(5)).await;
            assert!(first_applied.load(Ordering::SeqCst));
            downloaded.layer(1);
            Ok(7)
        };
        let unpack = async {
            assert!(arrivals.wait_for(0).await);
            first_applied.store(true, Ordering::SeqCst);
            assert!(arrivals.wait_for(1).await);
            Ok(Some("sha256:top".to_string()))
        };
        let (bytes, top) = side_by_side(downloads, unpack).await.unwrap();
        assert_eq!((bytes, top.as_str()), (7, "sha256:top"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_download_is_the_error_once_the_apply_in_flight_is_done() {
        let (downloaded, mut arrivals) = channel(2);
        let apply_done = AtomicBool::new(false);
        let downloads = async move {
            downloaded.layer(0);
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err::<u64, _>(failed("content write"))
        };
        let unpack = async {
            assert!(arrivals.wait_for(0).await);
            tokio::time::sleep(Duration::from_secs(1)).await;
            apply_done.store(true, Ordering::SeqCst);
            Ok(arrivals.wait_for(1).await.then(|| "sha256:top".to_string()))
        };
        let err = side_by_side(downloads, unpack).await.unwrap_err();
        assert!(err.to_string().contains("content write"), "{err}");
        assert!(apply_done.load(Ordering::SeqCst), "the apply was cut off");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_unpack_cancels_the_downloads() {
        let (downloaded, mut arrivals) = channel(2);
        let downloads = async move {
            downloaded.layer(0);
            std::future::pending::<()>().await;
            Ok(0)
        };
        let unpack = async {
            assert!(arrivals.wait_for(0).await);
            Err(failed("diff apply"))
        };
        let err = tokio::time::timeout(Duration::from_secs(60), side_by_side(downloads, unpack))
            .await
            .expect("the downloads were waited for")
            .unwrap_err();
        assert!(err.to_string().contains("diff apply"), "{err}");
    }
}
