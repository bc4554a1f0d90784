//! `plugins.query`: a plugin asks another plugin of the same account a synchronous question (the
//! shop asks membership for a follower's discount at checkout) through the target's `on-query`.
//!
//! Granted per target (`query:<plugin>`), so an operator sees who may ask whom. The question runs
//! inside the asking call's deadline: the answering call gets at most half of what is left of
//! it (and never more than its own limit), so a chain of questions cannot outlive the
//! follower's message and the asker always has time to handle a question left unanswered. Chains are at most
//! [`MAX_QUERY_DEPTH`] deep and a plugin already asking somewhere up the chain cannot be asked
//! again (no cycles, which would otherwise recurse until the deadline). Asynchronous
//! notifications between plugins stay with topics.

use std::sync::Arc;

use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::runtime::bindings::v0_2_0::plugins;
use crate::runtime::{CallFailure, CallState, Invocation, MAX_QUERY_ANSWER, Outcome};

/// Plugins one chain of questions may pass through after the first asker (a asks b asks c asks d).
pub const MAX_QUERY_DEPTH: usize = 3;
/// Longest query name, in bytes.
pub const MAX_QUERY_NAME: usize = 128;

/// Who asks: the chain of plugins already waiting on an answer, outermost first, ending with
/// the plugin asking now.
pub struct Asker {
    pub account: String,
    pub chain: Vec<String>,
    pub follower: Option<String>,
    /// Milliseconds left of the asking call.
    pub remaining_ms: u64,
}

impl Platform {
    /// Asks `target`'s `on-query(name, payload)` on the asker's account.
    pub async fn query_plugin(
        self: &Arc<Self>,
        asker: Asker,
        target: &str,
        name: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>> {
        if name.is_empty() || name.len() > MAX_QUERY_NAME || name.chars().any(char::is_control) {
            return Err(PlazaError::invalid(format!(
                "query names are 1-{MAX_QUERY_NAME} bytes without control characters"
            )));
        }
        if payload.len() > MAX_QUERY_ANSWER {
            return Err(PlazaError::TooLarge(format!(
                "query payload is {} bytes; the limit is {MAX_QUERY_ANSWER}",
                payload.len()
            )));
        }
        if asker.chain.iter().any(|p| p == target) {
            return Err(PlazaError::invalid(format!(
                "query cycle refused: {} → {target}",
                asker.chain.join(" → ")
            )));
        }
        if asker.chain.len() > MAX_QUERY_DEPTH {
            return Err(PlazaError::invalid(format!(
                "query chain too deep: {} → {target} (at most {MAX_QUERY_DEPTH} questions deep)",
                asker.chain.join(" → ")
            )));
        }
        if asker.remaining_ms == 0 {
            return Err(PlazaError::Unavailable(
                "no time left in this call to ask another plugin".into(),
            ));
        }
        let active = self
            .plugins
            .find_active(&asker.account, target)
            .ok_or_else(|| {
                PlazaError::not_found(format!(
                    "plugin {target:?} is not installed and enabled on account {:?}",
                    asker.account
                ))
            })?;
        let caller = asker.chain.last().cloned();
        let ctx = crate::plugins::call_context(&active, asker.follower.clone(), false);
        let ctx = crate::plugin_api::CallContext { caller, ..ctx };
        let mut state = CallState::new(self.clone(), active.clone(), asker.follower);
        // At most half of what the asker has left, so that it always has time to handle an
        // answer that did not come.
        state.timeout_ms = state.timeout_ms.min(asker.remaining_ms / 2).max(1);
        state.query_chain = asker.chain;
        let invocation = Invocation::Query(ctx, name.to_string(), payload);
        // Boxed: the answering plugin may itself ask (a bounded recursion through the runtime).
        let result = Box::pin(self.invoke_recorded(&active, state, invocation)).await;
        match result {
            Ok(Outcome::Answer(bytes)) => Ok(bytes),
            Ok(other) => Err(PlazaError::internal(format!(
                "plugin {target:?} answered a query with {other:?}"
            ))),
            Err(CallFailure::Plugin(e)) => Err(e),
            Err(CallFailure::Timeout(ms)) => Err(PlazaError::Unavailable(format!(
                "plugin {target:?} did not answer within {ms} ms"
            ))),
            Err(other) => Err(PlazaError::Unavailable(format!(
                "plugin {target:?} failed to answer: {other}"
            ))),
        }
    }
}

impl plugins::Host for CallState {
    async fn query(&mut self, plugin: String, name: String, payload: Vec<u8>) -> Result<Vec<u8>> {
        let asker = self.grants.query(&plugin)?;
        let mut chain = self.query_chain.clone();
        chain.push(asker.plugin);
        let asker = Asker {
            account: asker.account,
            chain,
            follower: self.follower.clone(),
            remaining_ms: self.remaining_ms(),
        };
        self.platform
            .clone()
            .query_plugin(asker, &plugin, &name, payload)
            .await
    }
}
