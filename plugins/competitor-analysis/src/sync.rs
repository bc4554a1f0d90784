//! Fetching peer metrics from the configured data provider (`plaza_sdk::http`, checked by the
//! host against the installation's `http.outbound:<host>` grants). Each peer's answer is
//! validated like an upload and stored all-or-nothing; the outcome per peer is kept in
//! `sync:last` for the operator (`GET /api/sync`).

use chrono::Duration;
use plaza_sdk::{CallContext, Error, http, storage};

use crate::analysis::date;
use crate::config::Config;
use crate::keywords::Segmenter;
use crate::metrics;
use crate::store::{self, PeerSync, SyncStatus};

pub fn run(ctx: &CallContext, config: &Config, trigger: &str) -> Result<SyncStatus, Error> {
    let now = crate::now_ms();
    let mut status = SyncStatus {
        at: now,
        trigger: trigger.into(),
        ..SyncStatus::default()
    };
    match &config.provider {
        None => {
            status.error = Some(
                "no data provider is configured (config provider.url_template); upload metrics instead"
                    .into(),
            );
        }
        Some(provider) => {
            let since = crate::local_date(&ctx.account.timezone, now)
                - Duration::days(i64::from(provider.since_days));
            let mut segmenter = None;
            for peer in store::peers()? {
                let Some(wechat_id) = peer.wechat_id.as_deref().filter(|w| !w.is_empty()) else {
                    status.peers.push(PeerSync {
                        peer: peer.id,
                        ok: false,
                        stored: 0,
                        error: Some("no wechat_id: the provider cannot be asked about it".into()),
                        rows: vec![],
                    });
                    continue;
                };
                let url = provider.url(wechat_id, &date(since));
                status
                    .peers
                    .push(fetch(&peer.id, &url, config, &mut segmenter));
            }
        }
    }
    storage::set_json(store::SYNC_KEY, &status)?;
    Ok(status)
}

fn fetch(peer: &str, url: &str, config: &Config, segmenter: &mut Option<Segmenter>) -> PeerSync {
    let fail = |error: String, rows: Vec<metrics::RowError>| PeerSync {
        peer: peer.into(),
        ok: false,
        stored: 0,
        error: Some(error),
        rows,
    };
    let response = match http::get(url) {
        Ok(r) => r,
        Err(Error::PermissionDenied(m)) => {
            return fail(
                format!(
                    "the provider's host is not granted (add and grant http.outbound:<host>): {m}"
                ),
                vec![],
            );
        }
        Err(e) => {
            return fail(
                format!("the provider could not be reached: {}", e.display()),
                vec![],
            );
        }
    };
    if !response.is_success() {
        return fail(
            format!("the provider answered HTTP {}", response.status),
            vec![],
        );
    }
    let rows = match metrics::parse_body(&response.body, response.header("content-type")) {
        Ok(rows) => rows,
        Err(rows) => return fail("the provider's answer is unreadable".into(), rows),
    };
    if rows.len() > config.max_upload_rows {
        return fail(
            format!(
                "the provider answered {} rows; at most {} are read",
                rows.len(),
                config.max_upload_rows
            ),
            vec![],
        );
    }
    let rows = match metrics::validate(&rows, Some(peer), &|_| true) {
        Ok(rows) => rows,
        Err(rows) => return fail(format!("{} invalid rows; nothing stored", rows.len()), rows),
    };
    if segmenter.is_none() {
        match Segmenter::load() {
            Ok(s) => *segmenter = Some(s),
            Err(e) => return fail(e, vec![]),
        }
    }
    let Some(seg) = segmenter.as_ref() else {
        return fail("no segmenter".into(), vec![]);
    };
    match store::store_rows(rows, seg) {
        Ok(done) => PeerSync {
            peer: peer.into(),
            ok: true,
            stored: done.stored,
            error: None,
            rows: vec![],
        },
        Err(e) => fail(format!("storing failed: {}", e.display()), vec![]),
    }
}
