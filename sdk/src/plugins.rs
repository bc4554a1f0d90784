//! Synchronous questions to other plugins of the account, answered by their
//! [`Plugin::on_query`](crate::Plugin::on_query). Needs `query:<plugin>` for each plugin asked.
//!
//! The answer must come within this call's own deadline; chains of questions are depth-limited
//! and cycles are refused by the host. For notifications that need no answer use topics
//! ([`messaging::publish`](crate::messaging::publish)).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::plaza::platform::plugins as wit;
use crate::Error;

/// Asks `plugin` the question `name` with `payload`; returns its answer.
/// [`Error::NotFound`] if the plugin is not installed and enabled on this account (or does not
/// know the question).
pub fn query(plugin: &str, name: &str, payload: &[u8]) -> Result<Vec<u8>, Error> {
    wit::query(plugin, name, payload)
}

/// [`query`] with a JSON question and a JSON answer.
pub fn query_json<Q: Serialize + ?Sized, A: DeserializeOwned>(
    plugin: &str,
    name: &str,
    question: &Q,
) -> Result<A, Error> {
    let payload = serde_json::to_vec(question)
        .map_err(|e| Error::invalid(format!("cannot encode the question as JSON: {e}")))?;
    let answer = query(plugin, name, &payload)?;
    serde_json::from_slice(&answer).map_err(|e| {
        Error::invalid(format!(
            "plugin {plugin:?} answered {name:?} with unexpected JSON: {e}"
        ))
    })
}

/// Encodes an answer as JSON for [`Plugin::on_query`](crate::Plugin::on_query).
pub fn answer_json<T: Serialize + ?Sized>(answer: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(answer)
        .map_err(|e| Error::internal(format!("cannot encode the answer as JSON: {e}")))
}
