//! The runtime boundary: host-side bindings of every `plaza:platform` version this host serves.
//!
//! One module per version (as Zed keeps them), each with its own `bindgen!`, the conversions
//! between its generated types and the host-owned types of [`crate::plugin_api`], and the glue
//! that calls its `handler` exports. The newest version's host functions are implemented by the
//! concerns themselves (`storage/host.rs`, `messaging/host.rs`, …); an older version's host
//! functions delegate to them, converting on the way (`v0_1_0.rs`). Adding 0.3 therefore means:
//! a new module here, the concerns' `host.rs` moving to 0.3, and 0.2 delegating like 0.1 does —
//! nothing else in the host changes.
//!
//! Which version a component speaks is read from the `handler` instance it exports
//! (`plaza:platform/handler@0.2.0`); all versions are linked into one [`Linker`], their instance
//! names differ by version, so a component finds exactly the imports it was built against.

pub mod v0_1_0;
pub mod v0_2_0;

use wasmtime::Store;
use wasmtime::component::{Component, ComponentExportIndex, Instance, Linker};

use super::state::CallState;
use super::{Invocation, Outcome};
use crate::error::PlazaError;

/// The WIT package every plugin imports.
pub const API_PACKAGE: &str = "plaza:platform";

/// An API version this host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    V0_1_0,
    V0_2_0,
}

impl ApiVersion {
    /// Newest first.
    pub const ALL: [ApiVersion; 2] = [ApiVersion::V0_2_0, ApiVersion::V0_1_0];

    pub fn semver(self) -> semver::Version {
        match self {
            ApiVersion::V0_1_0 => semver::Version::new(0, 1, 0),
            ApiVersion::V0_2_0 => semver::Version::new(0, 2, 0),
        }
    }

    /// The instance a component of this version exports.
    pub fn handler_export(self) -> &'static str {
        match self {
            ApiVersion::V0_1_0 => "plaza:platform/handler@0.1.0",
            ApiVersion::V0_2_0 => "plaza:platform/handler@0.2.0",
        }
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.semver())
    }
}

/// The API versions this host serves, newest first.
pub fn supported_versions() -> Vec<semver::Version> {
    ApiVersion::ALL.iter().map(|v| v.semver()).collect()
}

/// Links the imports of every supported version.
pub fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    type Data = wasmtime::component::HasSelf<CallState>;
    v0_1_0::Plugin::add_to_linker::<_, Data>(linker, |s| s)?;
    v0_2_0::Plugin::add_to_linker::<_, Data>(linker, |s| s)?;
    Ok(())
}

/// Where a component's `handler` exports are, found once at load: a call instantiates it and
/// looks up (and type-checks) only the one export it calls, instead of every export of the world
/// as the generated `instantiate` does — a sixth of that work on every follower message.
pub struct HandlerExports {
    pub api: ApiVersion,
    pub(super) on_install: ComponentExportIndex,
    pub(super) on_uninstall: ComponentExportIndex,
    pub(super) on_message: ComponentExportIndex,
    pub(super) on_event: ComponentExportIndex,
    pub(super) on_http: ComponentExportIndex,
    pub(super) review_outbound: ComponentExportIndex,
    /// 0.2 and later.
    pub(super) on_query: Option<ComponentExportIndex>,
}

impl HandlerExports {
    /// Finds the `handler` of the newest version the component exports.
    pub fn find(component: &Component) -> Result<Self, PlazaError> {
        let Some(api) = ApiVersion::ALL
            .into_iter()
            .find(|v| component.get_export(None, v.handler_export()).is_some())
        else {
            return Err(PlazaError::invalid(format!(
                "component exports no {API_PACKAGE}/handler this host serves (it serves {})",
                super::supported_versions_text()
            )));
        };
        let missing = |what: &str| {
            PlazaError::invalid(format!(
                "component does not export {what} of the {API_PACKAGE}@{api} plugin world"
            ))
        };
        let (_, iface) = component
            .get_export(None, api.handler_export())
            .ok_or_else(|| missing(api.handler_export()))?;
        let func = |name: &str| {
            component
                .get_export_index(Some(&iface), name)
                .ok_or_else(|| missing(name))
        };
        Ok(HandlerExports {
            api,
            on_install: func("on-install")?,
            on_uninstall: func("on-uninstall")?,
            on_message: func("on-message")?,
            on_event: func("on-event")?,
            on_http: func("on-http")?,
            review_outbound: func("review-outbound")?,
            on_query: match api {
                ApiVersion::V0_1_0 => None,
                ApiVersion::V0_2_0 => Some(func("on-query")?),
            },
        })
    }
}

/// A call's result before the host looks at it: a trap (outer), or the plugin's own answer.
pub type CallResult = wasmtime::Result<Result<Outcome, PlazaError>>;

/// Calls the one `handler` export an invocation names, in the component's own API version.
pub async fn call(
    instance: &Instance,
    exports: &HandlerExports,
    store: &mut Store<CallState>,
    invocation: Invocation,
) -> CallResult {
    match exports.api {
        ApiVersion::V0_1_0 => v0_1_0::call(instance, exports, store, invocation).await,
        ApiVersion::V0_2_0 => v0_2_0::call(instance, exports, store, invocation).await,
    }
}

/// Calls one typed export and returns its `result<T, error>`, converted to host types.
pub(super) async fn call_typed<P, T, E>(
    instance: &Instance,
    store: &mut Store<CallState>,
    index: &ComponentExportIndex,
    params: P,
) -> wasmtime::Result<Result<T, PlazaError>>
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
    T: Send + Sync + 'static,
    E: Into<PlazaError> + Send + Sync + 'static,
    (Result<T, E>,):
        wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync,
{
    let func = instance.get_typed_func::<P, (Result<T, E>,)>(&mut *store, index)?;
    let (result,) = func.call_async(&mut *store, params).await?;
    Ok(result.map_err(Into::into))
}

/// Conversions between the host-owned types and the generated types that every version shares
/// in the same shape (account, inbound messages, events, HTTP, errors). Expanded once per
/// version module, where `wit` names that version's generated `types`.
macro_rules! shared_conversions {
    () => {
        use crate::error::PlazaError;
        use crate::plugin_api as api;

        impl From<&crate::accounts::Account> for wit::Account {
            fn from(a: &crate::accounts::Account) -> Self {
                wit::Account {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    kind: match a.kind {
                        crate::accounts::AccountKind::Subscription => {
                            wit::AccountKind::Subscription
                        }
                        crate::accounts::AccountKind::Service => wit::AccountKind::Service,
                    },
                    verified: a.verified,
                    timezone: a.timezone.clone(),
                }
            }
        }

        impl From<api::MediaRef> for wit::Media {
            fn from(m: api::MediaRef) -> Self {
                wit::Media {
                    media_id: m.media_id,
                    url: m.url,
                }
            }
        }

        impl From<api::Location> for wit::Location {
            fn from(l: api::Location) -> Self {
                wit::Location {
                    latitude: l.latitude,
                    longitude: l.longitude,
                    scale: l.scale,
                    label: l.label,
                }
            }
        }

        impl From<api::InboundMessage> for wit::InboundMessage {
            fn from(m: api::InboundMessage) -> Self {
                wit::InboundMessage {
                    msg_id: m.msg_id,
                    from: m.from,
                    at: m.at,
                    body: match m.body {
                        api::InboundBody::Text(t) => wit::InboundBody::Text(t),
                        api::InboundBody::Image(m) => wit::InboundBody::Image(m.into()),
                        api::InboundBody::Voice(m) => wit::InboundBody::Voice(m.into()),
                        api::InboundBody::Video(m) => wit::InboundBody::Video(m.into()),
                        api::InboundBody::Location(l) => wit::InboundBody::Location(l.into()),
                        api::InboundBody::Link(l) => wit::InboundBody::Link(wit::Link {
                            title: l.title,
                            description: l.description,
                            url: l.url,
                        }),
                    },
                }
            }
        }

        impl From<api::Event> for wit::Event {
            fn from(e: api::Event) -> Self {
                match e {
                    api::Event::Follower(f) => wit::Event::Follower(wit::FollowerEvent {
                        from: f.from,
                        at: f.at,
                        kind: match f.kind {
                            api::FollowerEventKind::Subscribe(s) => {
                                wit::FollowerEventKind::Subscribe(s)
                            }
                            api::FollowerEventKind::Unsubscribe => {
                                wit::FollowerEventKind::Unsubscribe
                            }
                            api::FollowerEventKind::MenuClick(k) => {
                                wit::FollowerEventKind::MenuClick(k)
                            }
                            api::FollowerEventKind::MenuView(u) => {
                                wit::FollowerEventKind::MenuView(u)
                            }
                            api::FollowerEventKind::Scan(s) => wit::FollowerEventKind::Scan(s),
                            api::FollowerEventKind::Location(l) => {
                                wit::FollowerEventKind::Location(l.into())
                            }
                        },
                    }),
                    api::Event::Timer(t) => wit::Event::Timer(wit::TimerFired {
                        job_id: t.job_id,
                        payload: t.payload,
                        scheduled_for: t.scheduled_for,
                        attempt: t.attempt,
                    }),
                    api::Event::Topic(t) => wit::Event::Topic(wit::TopicMessage {
                        topic: t.topic,
                        payload: t.payload,
                        publisher: t.publisher,
                        id: t.id,
                        attempt: t.attempt,
                    }),
                }
            }
        }

        fn headers_to_wit(h: Vec<api::Header>) -> Vec<wit::Header> {
            h.into_iter()
                .map(|h| wit::Header {
                    name: h.name,
                    value: h.value,
                })
                .collect()
        }

        impl From<api::HttpRequest> for wit::HttpRequest {
            fn from(r: api::HttpRequest) -> Self {
                wit::HttpRequest {
                    method: r.method,
                    path: r.path,
                    query: r.query,
                    headers: headers_to_wit(r.headers),
                    body: r.body,
                }
            }
        }

        impl From<wit::HttpResponse> for api::HttpResponse {
            fn from(r: wit::HttpResponse) -> Self {
                api::HttpResponse {
                    status: r.status,
                    headers: r
                        .headers
                        .into_iter()
                        .map(|h| api::Header {
                            name: h.name,
                            value: h.value,
                        })
                        .collect(),
                    body: r.body,
                }
            }
        }

        impl From<PlazaError> for wit::Error {
            fn from(e: PlazaError) -> Self {
                use crate::error::PlazaError as E;
                match e {
                    E::NotFound(m) => wit::Error::NotFound(m),
                    E::PermissionDenied(m) | E::Unauthorized(m) => wit::Error::PermissionDenied(m),
                    E::QuotaExceeded { message, resets_at } => {
                        wit::Error::QuotaExceeded(wit::QuotaInfo { message, resets_at })
                    }
                    E::OutsideWindow(m) => wit::Error::OutsideWindow(m),
                    E::Invalid(m) => wit::Error::Invalid(m),
                    E::TooLarge(m) => wit::Error::TooLarge(m),
                    E::Conflict(m) => wit::Error::Conflict(m),
                    E::Unavailable(m) => wit::Error::Unavailable(m),
                    E::Internal(m) => wit::Error::Internal(m),
                }
            }
        }

        impl From<wit::Error> for PlazaError {
            fn from(e: wit::Error) -> Self {
                use crate::error::PlazaError as E;
                match e {
                    wit::Error::NotFound(m) => E::NotFound(m),
                    wit::Error::PermissionDenied(m) => E::PermissionDenied(m),
                    wit::Error::QuotaExceeded(q) => E::QuotaExceeded {
                        message: q.message,
                        resets_at: q.resets_at,
                    },
                    wit::Error::OutsideWindow(m) => E::OutsideWindow(m),
                    wit::Error::Invalid(m) => E::Invalid(m),
                    wit::Error::TooLarge(m) => E::TooLarge(m),
                    wit::Error::Conflict(m) => E::Conflict(m),
                    wit::Error::Unavailable(m) => E::Unavailable(m),
                    wit::Error::Internal(m) => E::Internal(m),
                }
            }
        }

        impl From<wit::ReviewVerdict> for api::ReviewVerdict {
            fn from(v: wit::ReviewVerdict) -> Self {
                match v {
                    wit::ReviewVerdict::Allow => api::ReviewVerdict::Allow,
                    wit::ReviewVerdict::Mask(c) => api::ReviewVerdict::Mask(c.into()),
                    wit::ReviewVerdict::Block(reason) => api::ReviewVerdict::Block(reason),
                }
            }
        }

        impl wit::Host for crate::runtime::state::CallState {
            fn convert_error(&mut self, err: PlazaError) -> wasmtime::Result<wit::Error> {
                Ok(err.into())
            }
        }

        fn media_from_wit(m: wit::Media) -> (String, Option<String>) {
            (m.media_id, m.url)
        }

        fn articles_from_wit(
            articles: Vec<wit::Article>,
        ) -> Vec<crate::messaging::content::Article> {
            articles
                .into_iter()
                .map(|a| crate::messaging::content::Article {
                    title: a.title,
                    description: a.description,
                    url: a.url,
                    picture_url: a.picture_url,
                })
                .collect()
        }

        fn articles_to_wit(articles: Vec<crate::messaging::content::Article>) -> Vec<wit::Article> {
            articles
                .into_iter()
                .map(|a| wit::Article {
                    title: a.title,
                    description: a.description,
                    url: a.url,
                    picture_url: a.picture_url,
                })
                .collect()
        }
    };
}
pub(crate) use shared_conversions;

/// `call`: the one `handler` export an invocation names, on an instance of the version whose
/// generated `types` are in scope as `wit`, converting to and from the host-owned types.
/// Expanded once per version module (the exports have the same shape in every version; only
/// the generated types differ).
macro_rules! handler_calls {
    () => {
        /// Calls the export `invocation` names on an instance of this version.
        pub(super) async fn call(
            instance: &wasmtime::component::Instance,
            exports: &super::HandlerExports,
            store: &mut wasmtime::Store<crate::runtime::state::CallState>,
            invocation: crate::runtime::Invocation,
        ) -> super::CallResult {
            use super::call_typed;
            use crate::runtime::{Invocation, Outcome};
            type Ctx = wit::CallContext;
            Ok(match invocation {
                Invocation::Install(ctx) => call_typed::<_, (), wit::Error>(
                    instance,
                    store,
                    &exports.on_install,
                    (Ctx::from(ctx),),
                )
                .await?
                .map(|()| Outcome::Done),
                Invocation::Uninstall(ctx) => call_typed::<_, (), wit::Error>(
                    instance,
                    store,
                    &exports.on_uninstall,
                    (Ctx::from(ctx),),
                )
                .await?
                .map(|()| Outcome::Done),
                Invocation::Message(ctx, msg) => call_typed::<_, Option<wit::Content>, wit::Error>(
                    instance,
                    store,
                    &exports.on_message,
                    (Ctx::from(ctx), wit::InboundMessage::from(msg)),
                )
                .await?
                .map(|reply| Outcome::Reply(reply.map(Into::into))),
                Invocation::Event(ctx, ev) => call_typed::<_, Option<wit::Content>, wit::Error>(
                    instance,
                    store,
                    &exports.on_event,
                    (Ctx::from(ctx), wit::Event::from(ev)),
                )
                .await?
                .map(|reply| Outcome::Reply(reply.map(Into::into))),
                Invocation::Http(ctx, req) => call_typed::<_, wit::HttpResponse, wit::Error>(
                    instance,
                    store,
                    &exports.on_http,
                    (Ctx::from(ctx), wit::HttpRequest::from(req)),
                )
                .await?
                .map(|r| Outcome::Http(r.into())),
                Invocation::Review(ctx, content) => {
                    call_typed::<_, wit::ReviewVerdict, wit::Error>(
                        instance,
                        store,
                        &exports.review_outbound,
                        (Ctx::from(ctx), wit::Content::from(content)),
                    )
                    .await?
                    .map(|v| Outcome::Verdict(v.into()))
                }
                Invocation::Query(ctx, name, payload) => {
                    let Some(on_query) = &exports.on_query else {
                        return Ok(Err(PlazaError::not_found(format!(
                            "plugins built against {}@{} answer no queries",
                            super::API_PACKAGE,
                            exports.api
                        ))));
                    };
                    call_typed::<_, Vec<u8>, wit::Error>(
                        instance,
                        store,
                        on_query,
                        (Ctx::from(ctx), name, payload),
                    )
                    .await?
                    .map(Outcome::Answer)
                }
            })
        }
    };
}
pub(crate) use handler_calls;
