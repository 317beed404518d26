//! What every provider's stream rules implement, and the identity a
//! stream's frames establish. Below both the providers' modules (which
//! implement the rules) and the accumulator (which dispatches to them).

use crate::normalize::NormalizeError;
use crate::normalize::envelope::Envelope;
use crate::usage::{ApiKind, NormalizedUsage};

/// One provider's stream rules: which frames are its own, what each one
/// contributes to the usage, and what the usage is when the stream ends.
pub(in crate::normalize) trait StreamRules {
    /// Whether a frame is this provider's; `kind` is its `type`, else its SSE event name.
    fn claims(kind: &str, env: &Envelope<'_>) -> bool
    where
        Self: Sized;

    /// Takes one of this provider's frames.
    fn apply(&mut self, kind: &str, env: &Envelope<'_>, identity: &mut StreamIdentity) -> Result<(), NormalizeError>;

    /// The usage of the ended stream, whose first frames showed it is `api`'s
    /// and whose last frame naming a model named `model`.
    fn finish(&self, api: ApiKind, model: Option<&str>) -> Result<NormalizedUsage, NormalizeError>;
}

/// Which API and model a stream's frames name.
#[derive(Default)]
pub(in crate::normalize) struct StreamIdentity {
    pub(super) api: Option<ApiKind>,
    pub(super) model: Option<String>,
}

impl StreamIdentity {
    /// The first frame that shows an API decides it; later frames cannot change it.
    pub(in crate::normalize) fn set_api(&mut self, api: ApiKind) {
        self.api.get_or_insert(api);
    }

    /// The last frame that names a model wins.
    pub(in crate::normalize) fn set_model(&mut self, model: Option<String>) {
        if model.is_some() {
            self.model = model;
        }
    }
}

/// The error of a stream that ended before its usage was complete.
pub(in crate::normalize) fn truncated(api: ApiKind, why: &str) -> NormalizeError {
    NormalizeError::Truncated(format!("the {} stream {why}", api.label()))
}
