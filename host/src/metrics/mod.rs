//! Operational metrics in the Prometheus text exposition format (`GET /metrics`, admin token).
//!
//! One [`Metrics`] per [`Platform`], holding its own registry (no process-global registry, so two
//! platforms in one test process never mix their numbers). Three kinds of series:
//! - counted where things happen: HTTP requests (one middleware layer on the router, see
//!   `api::metrics::track`), plugin calls (`Platform::invoke_recorded`), inbound messages per
//!   channel;
//! - queue depths, computed at scrape time by [`Platform::metrics_text`] from what the queues
//!   already keep (see [`QueueDepths`] for how each is bounded);
//! - nothing else: metrics never read follower data or message content.
//!
//! Label values are bounded: `route` is the router's path template (never the raw path),
//! `method` one of the standard methods or `other`, `plugin` a registered plugin name, `call` a
//! handler export, `outcome` `ok` or a [`crate::runtime::CallFailure::kind`].

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::error::{PlazaError, Result};
use crate::platform::Platform;

/// The content type of the text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// The `route` label of a request no route matched (404s, 405s of the fallback): one series for
/// all of them, whatever paths scanners try.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `outcome` label of a plugin call that returned normally.
pub const CALL_OK: &str = "ok";

/// HTTP handling times in seconds: most requests take well under a millisecond, a plugin route or
/// an upload can take seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Plugin call times in seconds: a fresh-instance call is tens of microseconds; the default
/// deadline is seconds.
const PLUGIN_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The `method` label: the standard methods by name, anything else as `other` (an extension
/// method is any token a client cares to send; it must not mint series).
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Queue depths and broadcast progress at one moment, read by [`Platform::queue_depths`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Topic deliveries waiting (counts kept in memory by the topic queue: a sum over accounts).
    pub topic_pending: u64,
    /// Topic deliveries that exhausted their retries (same counts).
    pub topic_dead: u64,
    /// Messages waiting for WeChat's server API: a key-only count of the queue, stopped at
    /// [`crate::channels::wechat::outbound::METRICS_COUNT_CAP`].
    pub wechat_outbound_pending: u64,
    /// Scheduled jobs: the sum of the per-installation job counts the job store keeps.
    pub scheduled_jobs: u64,
    /// Broadcasts started and not finished, and their recipients (read from at most
    /// [`crate::messaging::broadcast::METRICS_BROADCASTS`] unfinished broadcasts).
    pub broadcasts_running: u64,
    pub broadcasts_scheduled: u64,
    pub broadcast_delivered: u64,
    pub broadcast_skipped: u64,
    pub broadcast_pending: u64,
}

/// The registry and every series the host records.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    plugin_calls: IntCounterVec,
    plugin_duration: HistogramVec,
    inbound: IntCounterVec,
    topic_pending: IntGauge,
    topic_dead: IntGauge,
    wechat_outbound_pending: IntGauge,
    scheduled_jobs: IntGauge,
    broadcasts: IntGaugeVec,
    broadcast_recipients: IntGaugeVec,
}

fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: std::result::Result<M, prometheus::Error>,
) -> Result<M> {
    let metric = metric.map_err(internal)?;
    registry
        .register(Box::new(metric.clone()))
        .map_err(internal)?;
    Ok(metric)
}

fn internal(e: prometheus::Error) -> PlazaError {
    PlazaError::internal(format!("metrics: {e}"))
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    pub fn new() -> Result<Self> {
        let r = Registry::new();
        Ok(Metrics {
            http_requests: registered(
                &r,
                IntCounterVec::new(
                    Opts::new("plaza_http_requests_total", "HTTP requests answered."),
                    &["route", "method", "status"],
                ),
            )?,
            http_duration: registered(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "plaza_http_request_duration_seconds",
                        "Time from routing a request to its response head.",
                    )
                    .buckets(HTTP_BUCKETS.to_vec()),
                    &["route", "method"],
                ),
            )?,
            plugin_calls: registered(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "plaza_plugin_calls_total",
                        "Plugin export calls, by outcome (ok, or the failure kind).",
                    ),
                    &["plugin", "call", "outcome"],
                ),
            )?,
            plugin_duration: registered(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "plaza_plugin_call_duration_seconds",
                        "Wall time of plugin export calls, instantiation included.",
                    )
                    .buckets(PLUGIN_BUCKETS.to_vec()),
                    &["plugin", "call"],
                ),
            )?,
            inbound: registered(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "plaza_inbound_total",
                        "Inbound messages and events accepted by a channel.",
                    ),
                    &["channel"],
                ),
            )?,
            topic_pending: registered(
                &r,
                IntGauge::new(
                    "plaza_topic_deliveries_pending",
                    "Topic deliveries waiting to be delivered or retried.",
                ),
            )?,
            topic_dead: registered(
                &r,
                IntGauge::new(
                    "plaza_topic_deliveries_dead",
                    "Topic deliveries kept as dead letters.",
                ),
            )?,
            wechat_outbound_pending: registered(
                &r,
                IntGauge::new(
                    "plaza_wechat_outbound_pending",
                    "Messages waiting for WeChat's server API (counted up to a cap).",
                ),
            )?,
            scheduled_jobs: registered(
                &r,
                IntGauge::new("plaza_scheduled_jobs", "Scheduled plugin jobs stored."),
            )?,
            broadcasts: registered(
                &r,
                IntGaugeVec::new(
                    Opts::new("plaza_broadcasts", "Unfinished broadcasts, by state."),
                    &["state"],
                ),
            )?,
            broadcast_recipients: registered(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "plaza_broadcast_recipients",
                        "Recipients of running broadcasts, by state.",
                    ),
                    &["state"],
                ),
            )?,
            registry: r,
        })
    }

    /// One answered HTTP request. `route` is the matched path template (or
    /// [`UNMATCHED_ROUTE`]); label lookups hash the given strings and allocate nothing once a
    /// series exists.
    pub fn observe_http(&self, route: &str, method: &str, status: &str, elapsed: Duration) {
        if let Ok(c) = self
            .http_requests
            .get_metric_with_label_values(&[route, method, status])
        {
            c.inc();
        }
        if let Ok(h) = self
            .http_duration
            .get_metric_with_label_values(&[route, method])
        {
            h.observe(elapsed.as_secs_f64());
        }
    }

    /// One plugin call; `outcome` is [`CALL_OK`] or the failure's kind.
    pub fn observe_plugin_call(&self, plugin: &str, call: &str, outcome: &str, elapsed: Duration) {
        if let Ok(c) = self
            .plugin_calls
            .get_metric_with_label_values(&[plugin, call, outcome])
        {
            c.inc();
        }
        if let Ok(h) = self
            .plugin_duration
            .get_metric_with_label_values(&[plugin, call])
        {
            h.observe(elapsed.as_secs_f64());
        }
    }

    /// One inbound message or event accepted by `channel` (`local`, `wechat`).
    pub fn count_inbound(&self, channel: &'static str) {
        if let Ok(c) = self.inbound.get_metric_with_label_values(&[channel]) {
            c.inc();
        }
    }

    /// Sets the scrape-time gauges to `depths` and encodes every series.
    pub fn render(&self, depths: &QueueDepths) -> Result<String> {
        self.topic_pending.set(gauge(depths.topic_pending));
        self.topic_dead.set(gauge(depths.topic_dead));
        self.wechat_outbound_pending
            .set(gauge(depths.wechat_outbound_pending));
        self.scheduled_jobs.set(gauge(depths.scheduled_jobs));
        for (state, n) in [
            ("running", depths.broadcasts_running),
            ("scheduled", depths.broadcasts_scheduled),
        ] {
            self.broadcasts
                .get_metric_with_label_values(&[state])
                .map_err(internal)?
                .set(gauge(n));
        }
        for (state, n) in [
            ("delivered", depths.broadcast_delivered),
            ("skipped_quota", depths.broadcast_skipped),
            ("pending", depths.broadcast_pending),
        ] {
            self.broadcast_recipients
                .get_metric_with_label_values(&[state])
                .map_err(internal)?
                .set(gauge(n));
        }
        let mut out = Vec::with_capacity(8 << 10);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(internal)?;
        String::from_utf8(out).map_err(|e| PlazaError::internal(format!("metrics: {e}")))
    }
}

impl Platform {
    /// The queues' depths now. Each read is bounded (see [`QueueDepths`]), so a scrape costs
    /// the same however deep a queue grows.
    pub fn queue_depths(&self) -> Result<QueueDepths> {
        let (topic_pending, topic_dead) = self.topics.totals();
        let broadcasts = self.broadcasts.unfinished_summary()?;
        Ok(QueueDepths {
            topic_pending,
            topic_dead,
            wechat_outbound_pending: self.wechat_outbound.pending_count()?,
            scheduled_jobs: self.jobs.total()?,
            broadcasts_running: broadcasts.running,
            broadcasts_scheduled: broadcasts.scheduled,
            broadcast_delivered: broadcasts.delivered,
            broadcast_skipped: broadcasts.skipped_quota,
            broadcast_pending: broadcasts.pending,
        })
    }

    /// Everything `GET /metrics` answers, in the text exposition format.
    pub fn metrics_text(&self) -> Result<String> {
        self.metrics.render(&self.queue_depths()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample lines of `text` as (name with labels, value).
    fn samples(text: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').expect("sample line");
                (k.to_string(), v.parse().expect("value"))
            })
            .collect()
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        samples(text)
            .into_iter()
            .find(|(k, _)| k == series)
            .map(|(_, v)| v)
    }

    #[test]
    fn http_requests_are_counted_per_route_method_and_status() {
        let m = Metrics::new().unwrap();
        let route = "/api/v1/accounts/{account}/inbound";
        for _ in 0..3 {
            m.observe_http(route, "POST", "200", Duration::from_micros(300));
        }
        m.observe_http(route, "POST", "401", Duration::from_micros(20));
        let text = m.render(&QueueDepths::default()).unwrap();
        assert!(
            text.contains("# TYPE plaza_http_requests_total counter"),
            "{text}"
        );
        assert!(text.contains("# TYPE plaza_http_request_duration_seconds histogram"));
        let series = |status: &str| {
            format!(
                "plaza_http_requests_total{{method=\"POST\",route=\"{route}\",status=\"{status}\"}}"
            )
        };
        assert_eq!(value(&text, &series("200")), Some(3.0));
        assert_eq!(value(&text, &series("401")), Some(1.0));
        // The histogram has every bucket, cumulative, and a count of both statuses together.
        let prefix = format!(
            "plaza_http_request_duration_seconds_bucket{{method=\"POST\",route=\"{route}\","
        );
        let buckets: Vec<f64> = samples(&text)
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(buckets.len(), HTTP_BUCKETS.len() + 1, "{text}");
        assert_eq!(buckets[0], 1.0, "the 20 µs request is in the first bucket");
        assert_eq!(buckets[HTTP_BUCKETS.len()], 4.0, "+Inf holds every request");
        assert_eq!(
            value(
                &text,
                &format!(
                    "plaza_http_request_duration_seconds_count{{method=\"POST\",route=\"{route}\"}}"
                )
            ),
            Some(4.0)
        );
    }

    #[test]
    fn plugin_calls_and_inbound_are_counted() {
        let m = Metrics::new().unwrap();
        m.observe_plugin_call(
            "auto-reply",
            "on-message",
            CALL_OK,
            Duration::from_micros(40),
        );
        m.observe_plugin_call(
            "auto-reply",
            "on-message",
            "trap",
            Duration::from_micros(40),
        );
        m.observe_plugin_call(
            "auto-reply",
            "on-message",
            CALL_OK,
            Duration::from_micros(40),
        );
        m.count_inbound("local");
        m.count_inbound("wechat");
        m.count_inbound("local");
        let text = m.render(&QueueDepths::default()).unwrap();
        assert_eq!(
            value(
                &text,
                "plaza_plugin_calls_total{call=\"on-message\",outcome=\"ok\",plugin=\"auto-reply\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                "plaza_plugin_calls_total{call=\"on-message\",outcome=\"trap\",plugin=\"auto-reply\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                "plaza_plugin_call_duration_seconds_count{call=\"on-message\",plugin=\"auto-reply\"}"
            ),
            Some(3.0)
        );
        assert_eq!(
            value(&text, "plaza_inbound_total{channel=\"local\"}"),
            Some(2.0)
        );
        assert_eq!(
            value(&text, "plaza_inbound_total{channel=\"wechat\"}"),
            Some(1.0)
        );
    }

    #[test]
    fn queue_depths_are_the_values_of_the_scrape() {
        let m = Metrics::new().unwrap();
        let depths = QueueDepths {
            topic_pending: 7,
            topic_dead: 1,
            wechat_outbound_pending: 12,
            scheduled_jobs: 3,
            broadcasts_running: 2,
            broadcasts_scheduled: 1,
            broadcast_delivered: 900,
            broadcast_skipped: 5,
            broadcast_pending: 95,
        };
        let text = m.render(&depths).unwrap();
        for (series, v) in [
            ("plaza_topic_deliveries_pending", 7.0),
            ("plaza_topic_deliveries_dead", 1.0),
            ("plaza_wechat_outbound_pending", 12.0),
            ("plaza_scheduled_jobs", 3.0),
            ("plaza_broadcasts{state=\"running\"}", 2.0),
            ("plaza_broadcasts{state=\"scheduled\"}", 1.0),
            ("plaza_broadcast_recipients{state=\"delivered\"}", 900.0),
            ("plaza_broadcast_recipients{state=\"skipped_quota\"}", 5.0),
            ("plaza_broadcast_recipients{state=\"pending\"}", 95.0),
        ] {
            assert_eq!(value(&text, series), Some(v), "{series} in {text}");
        }
        assert!(text.contains("# TYPE plaza_topic_deliveries_pending gauge"));
        // A later scrape shows the later values, not a sum.
        let text = m.render(&QueueDepths::default()).unwrap();
        assert_eq!(value(&text, "plaza_topic_deliveries_pending"), Some(0.0));
    }

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label(&http::Method::POST), "POST");
        let custom = http::Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), "other");
    }

    #[test]
    fn two_platforms_do_not_share_numbers() {
        let (a, b) = (Metrics::new().unwrap(), Metrics::new().unwrap());
        a.count_inbound("local");
        let text = b.render(&QueueDepths::default()).unwrap();
        assert_eq!(value(&text, "plaza_inbound_total{channel=\"local\"}"), None);
    }
}
