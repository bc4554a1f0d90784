//! The record kept of every outbound request, allowed or refused: who asked, where to, and how it
//! ended — never the path, query, headers or bodies, which may carry secrets.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::error::OutboundError;
use super::policy::Target;
use crate::platform::Platform;

/// One outbound request as the event log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRecord {
    /// The plugin that made the request.
    pub plugin: String,
    pub method: String,
    /// `http` or `https` (empty when the request had no usable URL).
    pub scheme: String,
    /// The host as the URL named it (a name or an IP literal), lowercase.
    pub host: String,
    pub port: u16,
    /// The response status, when a response head arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the host refused the request before connecting (grant, address, bounds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// What went wrong with an allowed request (connect, TLS, timeouts, oversize body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// From the plugin's request to the end of the exchange (response body read, failed or
    /// dropped), or to the refusal.
    pub duration_ms: u64,
}

/// What is known of a request when it starts; finished into an [`OutboundRecord`] once.
#[derive(Debug, Clone)]
pub(super) struct Draft {
    plugin: String,
    method: String,
    scheme: String,
    host: String,
    port: u16,
    started: Instant,
}

impl Draft {
    /// The destination fields from the request's URI, as far as it has them; `target` (when the
    /// URI parsed) gives the normalised form.
    pub(super) fn new(
        plugin: &str,
        method: &http::Method,
        uri: &http::Uri,
        target: Option<&Target>,
        started: Instant,
    ) -> Self {
        let (scheme, host, port) = match target {
            Some(t) => (t.scheme.as_str().to_string(), t.host.to_string(), t.port),
            None => (
                uri.scheme_str().unwrap_or_default().to_ascii_lowercase(),
                uri.host().unwrap_or_default().to_ascii_lowercase(),
                uri.port_u16().unwrap_or_default(),
            ),
        };
        Draft {
            plugin: plugin.to_string(),
            method: method.as_str().to_string(),
            scheme,
            host,
            port,
            started,
        }
    }

    fn finish(
        &self,
        status: Option<u16>,
        refused: Option<String>,
        error: Option<String>,
    ) -> OutboundRecord {
        OutboundRecord {
            plugin: self.plugin.clone(),
            method: self.method.clone(),
            scheme: self.scheme.clone(),
            host: self.host.clone(),
            port: self.port,
            status,
            refused,
            error,
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    pub(super) fn refused(&self, why: &OutboundError) -> OutboundRecord {
        self.finish(None, Some(why.to_string()), None)
    }

    pub(super) fn failed(&self, status: Option<u16>, why: &OutboundError) -> OutboundRecord {
        self.finish(status, None, Some(why.to_string()))
    }

    pub(super) fn answered(&self, status: u16) -> OutboundRecord {
        self.finish(Some(status), None, None)
    }
}

/// Where one call's records go: [`super::record`] (the event log), and a copy kept for the call.
pub(super) struct CallLog {
    platform: Arc<Platform>,
    account: String,
    records: Mutex<Vec<OutboundRecord>>,
}

impl CallLog {
    pub(super) fn new(platform: Arc<Platform>, account: String) -> Self {
        CallLog {
            platform,
            account,
            records: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn push(&self, rec: OutboundRecord) {
        super::record(&self.platform, &self.account, &rec);
        // A poisoned lock only loses the call's own copy; the record itself went out above.
        if let Ok(mut records) = self.records.lock() {
            records.push(rec);
        }
    }

    pub(super) fn records(&self) -> Vec<OutboundRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// Records a request that is dropped in flight (the plugin dropped the pending response, or its
/// call ended and the store with it) before [`InFlight::settle`] says how it ended.
pub(super) struct InFlight {
    log: Arc<CallLog>,
    draft: Draft,
    target: String,
    settled: bool,
}

impl InFlight {
    pub(super) fn new(log: Arc<CallLog>, draft: Draft, target: &Target) -> Self {
        InFlight {
            log,
            draft,
            target: target.to_string(),
            settled: false,
        }
    }

    /// The request's outcome is known: the caller records it, with this log and draft.
    pub(super) fn settle(mut self) -> (Arc<CallLog>, Draft) {
        self.settled = true;
        (self.log.clone(), self.draft.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.settled {
            let target = std::mem::take(&mut self.target);
            self.log.push(
                self.draft
                    .failed(None, &OutboundError::Abandoned { target }),
            );
        }
    }
}

/// Records a request once its exchange ends: at the end of the response body, at its failure,
/// or when the plugin drops it (or its call ends) without reading it all.
pub(super) struct RecordOnce {
    log: Arc<CallLog>,
    draft: Draft,
    status: u16,
}

impl RecordOnce {
    pub(super) fn new(log: Arc<CallLog>, draft: Draft, status: u16) -> Self {
        RecordOnce { log, draft, status }
    }

    pub(super) fn done(self, error: Option<&OutboundError>) {
        let rec = match error {
            Some(e) => self.draft.failed(Some(self.status), e),
            None => self.draft.answered(self.status),
        };
        self.log.push(rec);
    }
}
