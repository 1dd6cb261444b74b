//! Creating a container while its image is checked. Under
//! ECS_IMAGE_PULL_BEHAVIOR default and always every start asks the
//! registry what the image's name points at now (the Go agent pulls, then
//! creates). An image this runtime pulled before is most often still what
//! the registry has, so the create begins at once from it, alongside the
//! pull (a round trip to the registry, tens of milliseconds to ECR, and its
//! login): the container is kept, and started, only once the pull answers
//! with the same image. Anything else (another image, a failed pull under
//! always, a create that failed) removes what was made and the container is
//! created again from what the pull says, as if nothing had been begun.

use crate::task::container::PulledImage;
use crate::task::failure::{Failure, FailureKind};
use crate::task::Event;

use super::inner::{lock, now_ms, ImageCheck, Inner};

/// What the pull said of a container begun from the provisional image.
pub(crate) enum Verdict {
    /// The same image: the container stands; the pull ended at `at_ms`.
    Same { at_ms: i64, image: PulledImage },
    /// Another image, or a failure: what the container must be made from
    /// (or fail with) instead.
    Other(Result<PulledImage, Failure>),
}

/// What becomes of a container begun from the provisional image.
pub(crate) enum Settled {
    /// It stands as made: the event (the pull confirmed its image) goes to
    /// the task in the same message as the create's own, so that the task
    /// takes one step and one checkpoint for both, not two before its start.
    Stands(Event),
    /// It is made again from this image (or fails with this).
    Redo(Result<PulledImage, Failure>),
}

impl Verdict {
    /// What the verdict means for container `container`. `image_gone`: its
    /// create found no image (image cleanup took it, and the pull brought
    /// it back), so even the same image is made again.
    pub(crate) fn settle(self, container: usize, image_gone: bool) -> Settled {
        match self {
            Verdict::Same { image, .. } if image_gone => Settled::Redo(Ok(image)),
            Verdict::Same { at_ms, image } => Settled::Stands(Event::ImageConfirmed {
                container,
                digest: image.digest,
                at_ms,
            }),
            Verdict::Other(result) => Settled::Redo(result),
        }
    }
}

impl ImageCheck {
    pub(crate) async fn verdict(self) -> Verdict {
        let outcome = self.outcome.await.unwrap_or_else(|_| {
            Err(Failure::new(
                FailureKind::CannotPull,
                "the image pull ended abnormally",
            ))
        });
        match outcome {
            Ok(image)
                if image.digest == self.provisional.digest
                    && image.chain_id == self.provisional.chain_id =>
            {
                Verdict::Same {
                    at_ms: now_ms(),
                    image,
                }
            }
            other => Verdict::Other(other),
        }
    }
}

impl<R> Inner<R> {
    /// Container `i` of `arn` is begun from a provisional image; its create
    /// takes the pull's answer from here.
    pub(crate) fn put_image_check(&self, arn: &str, i: usize, check: ImageCheck) {
        lock(&self.image_checks).insert((arn.to_string(), i), check);
    }

    pub(crate) fn take_image_check(&self, arn: &str, i: usize) -> Option<ImageCheck> {
        lock(&self.image_checks).remove(&(arn.to_string(), i))
    }

    /// A task that ended before creating a container begun so.
    pub(crate) fn forget_image_checks(&self, arn: &str) {
        lock(&self.image_checks).retain(|(a, _), _| a != arn);
    }
}
