//! Capabilities: what a plugin asks for in its manifest and what an operator grants per account.
//!
//! Two gates, as Zed has them: a plugin can only be granted what its manifest requests, and a host
//! call succeeds only if the installation's operator granted it. Everything is denied by default.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::PlazaError;

/// One thing a plugin may do through the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    Storage,
    FollowersRead,
    FollowersWrite,
    MessagingSend,
    MessagingTemplate,
    MessagingBroadcast,
    Scheduling,
    /// Publish to exactly this topic.
    TopicPublish(String),
    /// Receive topics matching this pattern (`shop.order.*` or an exact name).
    TopicSubscribe(String),
    /// Serve requests under `/p/{account}/{plugin}/…`.
    HttpRoutes,
    /// Take part in the outbound review chain (moderation).
    ReviewOutbound,
    /// Read the account's event log (`events.query`, `events.daily`).
    EventsRead,
    /// Record plugin events (`events.emit`), kinds namespaced by the plugin's name.
    EventsEmit,
    /// Store and read blobs (`media`), within the account's media quota.
    Media,
    /// List and create the account's tags (`tags`).
    TagsManage,
    /// Ask this plugin questions (`plugins.query`).
    Query(String),
    /// Outbound HTTP to hosts matching this pattern: `[scheme://]host[:port]`, where host may start
    /// with `*.` (see `crate::http_outbound`).
    HttpOutbound(String),
}

impl Capability {
    /// The names operators and manifests use, for error messages and docs.
    pub const KNOWN: &'static str = "storage, followers.read, followers.write, messaging.send, \
        messaging.template, messaging.broadcast, scheduling, topics.publish:<topic>, \
        topics.subscribe:<pattern>, http.routes, review.outbound, events.read, events.emit, media, \
        tags.manage, query:<plugin>, http.outbound:<[scheme://]host[:port]>";
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Storage => f.write_str("storage"),
            Capability::FollowersRead => f.write_str("followers.read"),
            Capability::FollowersWrite => f.write_str("followers.write"),
            Capability::MessagingSend => f.write_str("messaging.send"),
            Capability::MessagingTemplate => f.write_str("messaging.template"),
            Capability::MessagingBroadcast => f.write_str("messaging.broadcast"),
            Capability::Scheduling => f.write_str("scheduling"),
            Capability::TopicPublish(t) => write!(f, "topics.publish:{t}"),
            Capability::TopicSubscribe(t) => write!(f, "topics.subscribe:{t}"),
            Capability::HttpRoutes => f.write_str("http.routes"),
            Capability::ReviewOutbound => f.write_str("review.outbound"),
            Capability::EventsRead => f.write_str("events.read"),
            Capability::EventsEmit => f.write_str("events.emit"),
            Capability::Media => f.write_str("media"),
            Capability::TagsManage => f.write_str("tags.manage"),
            Capability::Query(p) => write!(f, "query:{p}"),
            Capability::HttpOutbound(h) => write!(f, "http.outbound:{h}"),
        }
    }
}

fn valid_topic(t: &str, pattern: bool) -> bool {
    let body = if pattern {
        t.strip_suffix('*').unwrap_or(t)
    } else {
        t
    };
    !t.is_empty()
        && t.len() <= 128
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Whether an outbound host pattern means something to `crate::http_outbound` (which defines it).
fn valid_outbound_pattern(h: &str) -> bool {
    crate::http_outbound::OutboundPattern::parse(&h.to_ascii_lowercase()).is_ok()
}

impl FromStr for Capability {
    type Err = PlazaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || {
            PlazaError::invalid(format!(
                "unknown capability {s:?}; known: {}",
                Capability::KNOWN
            ))
        };
        Ok(match s {
            "storage" => Capability::Storage,
            "followers.read" => Capability::FollowersRead,
            "followers.write" => Capability::FollowersWrite,
            "messaging.send" => Capability::MessagingSend,
            "messaging.template" => Capability::MessagingTemplate,
            "messaging.broadcast" => Capability::MessagingBroadcast,
            "scheduling" => Capability::Scheduling,
            "http.routes" => Capability::HttpRoutes,
            "review.outbound" => Capability::ReviewOutbound,
            "events.read" => Capability::EventsRead,
            "events.emit" => Capability::EventsEmit,
            "media" => Capability::Media,
            "tags.manage" => Capability::TagsManage,
            _ => {
                if let Some(t) = s.strip_prefix("topics.publish:") {
                    if !valid_topic(t, false) {
                        return Err(unknown());
                    }
                    Capability::TopicPublish(t.to_string())
                } else if let Some(t) = s.strip_prefix("topics.subscribe:") {
                    if !valid_topic(t, true) {
                        return Err(unknown());
                    }
                    Capability::TopicSubscribe(t.to_string())
                } else if let Some(p) = s.strip_prefix("query:") {
                    if crate::accounts::validate_id("plugin name", p).is_err() {
                        return Err(unknown());
                    }
                    Capability::Query(p.to_string())
                } else if let Some(h) = s.strip_prefix("http.outbound:") {
                    if !valid_outbound_pattern(h) {
                        return Err(unknown());
                    }
                    Capability::HttpOutbound(h.to_ascii_lowercase())
                } else {
                    return Err(unknown());
                }
            }
        })
    }
}

impl Serialize for Capability {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: PlazaError| serde::de::Error::custom(e.message()))
    }
}

/// What an operator granted one installation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstallationGrant(pub BTreeSet<Capability>);

impl InstallationGrant {
    pub fn allows(&self, cap: &Capability) -> bool {
        if self.0.contains(cap) {
            return true;
        }
        // Followers write implies read.
        if *cap == Capability::FollowersRead && self.0.contains(&Capability::FollowersWrite) {
            return true;
        }
        false
    }

    /// `Ok(())` if granted, else the permission-denied error a plugin sees.
    pub fn require(&self, cap: &Capability) -> Result<(), PlazaError> {
        if self.allows(cap) {
            Ok(())
        } else {
            Err(PlazaError::PermissionDenied(format!(
                "capability {cap} is not granted to this installation"
            )))
        }
    }

    /// Whether a topic subscription pattern granted here matches `topic`.
    pub fn subscribes_to(&self, topic: &str) -> bool {
        self.0.iter().any(|c| match c {
            Capability::TopicSubscribe(p) => match p.strip_suffix('*') {
                Some(prefix) => topic.starts_with(prefix),
                None => p == topic,
            },
            _ => false,
        })
    }

    /// Checks that every capability here was requested by the manifest (the first gate).
    pub fn check_within(&self, requested: &[Capability]) -> Result<(), PlazaError> {
        let not_requested: Vec<String> = self
            .0
            .iter()
            .filter(|c| !requested.contains(c) && !outbound_covered(c, requested))
            .map(|c| c.to_string())
            .collect();
        if not_requested.is_empty() {
            Ok(())
        } else {
            Err(PlazaError::invalid(format!(
                "cannot grant capabilities the plugin does not request: {}",
                not_requested.join(", ")
            )))
        }
    }
}

/// Whether `cap` is an outbound grant within a broader one the manifest requests (the plugin
/// asks for `http.outbound:*.shop.example`, the operator grants `http.outbound:a.shop.example`).
fn outbound_covered(cap: &Capability, requested: &[Capability]) -> bool {
    use crate::http_outbound::OutboundPattern;
    let Capability::HttpOutbound(granted) = cap else {
        return false;
    };
    let Ok(granted) = OutboundPattern::parse(granted) else {
        return false;
    };
    requested.iter().any(|r| match r {
        Capability::HttpOutbound(p) => OutboundPattern::parse(p).is_ok_and(|p| p.covers(&granted)),
        _ => false,
    })
}

/// What the current plugin call may do, built from its installation's grant when the call
/// starts (the per-call state of every capability, as Spin's factors build theirs per instance).
///
/// The WIT host functions reach the host only through it: each capability's accessor returns the
/// scope that capability acts in (the installation's storage namespace, the account a follower
/// call reads, the sender of a message) or `permission-denied`. A host function cannot get the
/// account or plugin it would act for without going through its capability's accessor, so the
/// check cannot be skipped by forgetting it. `tests/grants.rs` calls every imported function of
/// the world without its grant and shows it is refused and changes nothing.
#[derive(Debug, Clone)]
pub struct CallGrants {
    account: String,
    plugin: String,
    timezone: String,
    grant: InstallationGrant,
}

/// The installation a granted call acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub account: String,
    pub plugin: String,
}

/// The scope of a scheduling call: the installation, and the timezone its cron jobs run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduler {
    pub actor: Actor,
    pub timezone: String,
}

impl CallGrants {
    pub fn new(account: &str, plugin: &str, timezone: &str, grant: InstallationGrant) -> Self {
        CallGrants {
            account: account.to_string(),
            plugin: plugin.to_string(),
            timezone: timezone.to_string(),
            grant,
        }
    }

    fn actor(&self, cap: Capability) -> Result<Actor, PlazaError> {
        self.grant.require(&cap)?;
        Ok(Actor {
            account: self.account.clone(),
            plugin: self.plugin.clone(),
        })
    }

    /// `storage`: the installation's own key/value namespace.
    pub fn storage(&self) -> Result<crate::storage::KvNamespace, PlazaError> {
        let a = self.actor(Capability::Storage)?;
        Ok(crate::storage::KvNamespace {
            account: a.account,
            plugin: a.plugin,
        })
    }

    /// `followers.read` (implied by `followers.write`): the account whose followers are read.
    pub fn followers_read(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::FollowersRead)
    }

    /// `followers.write`: the account whose followers are changed.
    pub fn followers_write(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::FollowersWrite)
    }

    /// `messaging.send`: customer-service messages.
    pub fn send(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::MessagingSend)
    }

    /// `messaging.template`: template messages.
    pub fn send_template(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::MessagingTemplate)
    }

    /// `messaging.broadcast`: broadcasts.
    pub fn broadcast(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::MessagingBroadcast)
    }

    /// `topics.publish:<topic>`: publishing to exactly this topic.
    pub fn publish(&self, topic: &str) -> Result<Actor, PlazaError> {
        self.actor(Capability::TopicPublish(topic.to_string()))
    }

    /// `events.read`: the account whose event log is read.
    pub fn events_read(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::EventsRead)
    }

    /// `events.emit`: the account and plugin a plugin event is recorded for.
    pub fn events_emit(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::EventsEmit)
    }

    /// `media`: the account whose media store is used.
    pub fn media(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::Media)
    }

    /// `tags.manage`: the account whose tag registry is read and extended.
    pub fn tags_manage(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::TagsManage)
    }

    /// `query:<plugin>`: asking exactly this plugin.
    pub fn query(&self, target: &str) -> Result<Actor, PlazaError> {
        self.actor(Capability::Query(target.to_string()))
    }

    /// `http.routes`: signed follower links lead to the plugin's own routes, so they need them.
    pub fn links(&self) -> Result<Actor, PlazaError> {
        self.actor(Capability::HttpRoutes)
    }

    /// `http.outbound:*`: the installation and every outbound host pattern it was granted (empty
    /// patterns mean no outbound HTTP at all; the request is then refused).
    pub fn http_outbound(&self) -> (Actor, Vec<String>) {
        let patterns = self
            .grant
            .0
            .iter()
            .filter_map(|c| match c {
                Capability::HttpOutbound(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        (
            Actor {
                account: self.account.clone(),
                plugin: self.plugin.clone(),
            },
            patterns,
        )
    }

    /// `scheduling`: the installation's jobs.
    pub fn scheduling(&self) -> Result<Scheduler, PlazaError> {
        Ok(Scheduler {
            actor: self.actor(Capability::Scheduling)?,
            timezone: self.timezone.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_unknown() {
        for s in [
            "storage",
            "messaging.send",
            "topics.publish:shop.order.paid",
            "topics.subscribe:shop.*",
            "events.read",
            "events.emit",
            "media",
            "tags.manage",
            "query:membership",
            "http.outbound:api.example.com",
            "http.outbound:*.example.com:8443",
            "http.outbound:https://127.0.0.1:9000",
        ] {
            assert_eq!(s.parse::<Capability>().unwrap().to_string(), s);
        }
        let err = "filesystem".parse::<Capability>().unwrap_err();
        assert!(err.message().contains("known: storage"), "{err}");
        assert!("topics.publish:".parse::<Capability>().is_err());
        assert!("topics.publish:a*".parse::<Capability>().is_err());
        assert!("query:".parse::<Capability>().is_err());
        assert!("http.outbound:".parse::<Capability>().is_err());
        assert!("http.outbound:a.com/path".parse::<Capability>().is_err());
    }

    #[test]
    fn grants_deny_by_default_and_match_topics() {
        let g = InstallationGrant(
            ["storage", "topics.subscribe:shop.*", "followers.write"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect(),
        );
        assert!(g.require(&Capability::Storage).is_ok());
        assert!(matches!(
            g.require(&Capability::MessagingSend),
            Err(PlazaError::PermissionDenied(_))
        ));
        assert!(g.allows(&Capability::FollowersRead));
        assert!(g.subscribes_to("shop.order.paid"));
        assert!(!g.subscribes_to("crm.lead"));
        assert!(g.check_within(&[Capability::Storage]).is_err());

        // An outbound grant may be narrower than what the manifest requests, never wider.
        let cap = |s: &str| -> Capability { s.parse().unwrap() };
        let requested = [
            cap("http.outbound:*.shop.example"),
            cap("http.outbound:https://pay.example"),
        ];
        for ok in [
            "http.outbound:a.shop.example",
            "http.outbound:*.eu.shop.example",
            "http.outbound:https://pay.example:443",
        ] {
            assert!(
                InstallationGrant([cap(ok)].into())
                    .check_within(&requested)
                    .is_ok(),
                "{ok}"
            );
        }
        for wide in [
            "http.outbound:shop.example",
            "http.outbound:a.shop.example:8080",
            "http.outbound:pay.example",
            "http.outbound:http://pay.example",
        ] {
            assert!(
                InstallationGrant([cap(wide)].into())
                    .check_within(&requested)
                    .is_err(),
                "{wide}"
            );
        }
    }
}
