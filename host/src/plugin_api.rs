//! The plugin API in host-owned types: what a call carries into a plugin and what comes back.
//!
//! Every `plaza:platform` version the host serves converts its generated types to and from these
//! at the runtime boundary (`runtime::bindings::v0_1_0`, `v0_2_0`) and nowhere else, so the
//! domain (channels, messaging, scheduling, topics, plugin routes) is written once, and a new API
//! version touches only the boundary. The other host-owned types a plugin sees are
//! [`crate::accounts::Account`], [`crate::accounts::followers::Follower`],
//! [`crate::messaging::content::MessageContent`] (content) and [`crate::error::PlazaError`].

pub use crate::accounts::Account;
pub use crate::messaging::content::MessageContent as Content;

/// Who is being served by a call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallContext {
    pub account: Account,
    pub plugin: String,
    pub plugin_version: String,
    /// The follower the call is about, when known (messages, events, signed follower links).
    pub follower: Option<String>,
    /// The caller proved it holds an operator token (only on `on-http`).
    pub operator: bool,
    /// On `on-query`: the plugin asking.
    pub caller: Option<String>,
}

/// A media reference in a message.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRef {
    pub media_id: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub scale: u32,
    pub label: String,
}

/// A link a follower shared.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedLink {
    pub title: String,
    pub description: String,
    pub url: String,
}

/// What a follower sends to an account.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundBody {
    Text(String),
    Image(MediaRef),
    Voice(MediaRef),
    Video(MediaRef),
    Location(Location),
    Link(SharedLink),
}

impl InboundBody {
    /// The message type as the WeChat protocol and the event log name it.
    pub fn type_name(&self) -> &'static str {
        match self {
            InboundBody::Text(_) => "text",
            InboundBody::Image(_) => "image",
            InboundBody::Voice(_) => "voice",
            InboundBody::Video(_) => "video",
            InboundBody::Location(_) => "location",
            InboundBody::Link(_) => "link",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub msg_id: String,
    pub from: String,
    pub at: u64,
    pub body: InboundBody,
}

/// A follower event, as the channel reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowerEventKind {
    /// With the scene (e.g. a QR code's scene value), when there is one.
    Subscribe(Option<String>),
    Unsubscribe,
    MenuClick(String),
    MenuView(String),
    Scan(String),
    Location(Location),
}

impl FollowerEventKind {
    /// The event name and key as the WeChat protocol and the event log name them.
    pub fn name_and_key(&self) -> (&'static str, Option<String>) {
        match self {
            FollowerEventKind::Subscribe(scene) => ("subscribe", scene.clone()),
            FollowerEventKind::Unsubscribe => ("unsubscribe", None),
            FollowerEventKind::MenuClick(key) => ("click", Some(key.clone())),
            FollowerEventKind::MenuView(url) => ("view", Some(url.clone())),
            FollowerEventKind::Scan(scene) => ("scan", Some(scene.clone())),
            FollowerEventKind::Location(_) => ("location", None),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FollowerEvent {
    pub from: String,
    pub at: u64,
    pub kind: FollowerEventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimerFired {
    pub job_id: String,
    pub payload: Vec<u8>,
    pub scheduled_for: u64,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub publisher: String,
    pub id: String,
    pub attempt: u32,
}

/// What `on-event` is told about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Follower(FollowerEvent),
    Timer(TimerFired),
    Topic(TopicMessage),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// A request to a plugin's route, relative to `/p/{account}/{plugin}`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

/// A moderation plugin's answer about outbound content.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewVerdict {
    Allow,
    Mask(Content),
    Block(String),
}
