//! # plaza-sdk — write Plaza feature plugins in plain Rust
//!
//! A Plaza plugin is a WebAssembly component that implements the `plaza:platform@0.2.0` world
//! (`wit/since_v0.2.0/platform.wit`). This crate hides the generated component bindings (they live
//! in the `#[doc(hidden)]` `__private` module) behind three things a plugin author actually needs:
//!
//! * the [`Plugin`] trait, whose every method has a sensible default, so a plugin implements only
//!   the hooks it cares about;
//! * the [`register!`] macro, which exports a `Plugin` type as the component's `handler` interface;
//! * thin, plain-Rust wrappers over the host imports: [`storage`], [`messaging`], [`scheduling`],
//!   [`followers`], [`tags`], [`accounts`], [`events`], [`media`], [`links`], [`plugins`],
//!   [`config`] and [`log`]; [`signing`] for HMAC-signed links and tokens; [`time`] for the account's local days; outbound HTTP with [`http`] (the standard `wasi:http`, checked by
//!   the host against the operator's `http.outbound:<host>` grants); [`router`] for the plugin's
//!   own HTTP routes (a route table where each route names who may call it) and [`html`] for the
//!   pages it serves; [`storage::update_json`], [`storage::scan_prefix`],
//!   [`followers::list_all`] and [`events::query_all`] so that read-modify-write loops and
//!   paging are not rewritten in every plugin; plus a few constructors and accessors on
//!   the platform types ([`Content::text`], [`HttpResponse::json`], [`HttpRequest::header`],
//!   [`Error::invalid`], …).
//!
//! ## Hello world
//!
//! ```no_run
//! use plaza_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn on_message(&self, _ctx: &CallContext, msg: InboundMessage) -> Result<Option<Content>> {
//!         Ok(msg.text().map(|text| Content::text(format!("Hello, {}! You said: {text}", msg.from))))
//!     }
//! }
//!
//! plaza_sdk::register!(Hello);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the `.wasm` file in the target
//! directory is already a component (the wasip2 target links it as one), ready to be installed next
//! to a `plugin.toml` manifest.
//!
//! ## The execution model, and why the API looks like this
//!
//! Every host call into a plugin runs in a **fresh instance**: nothing in memory survives from one
//! message to the next. That is why [`register!`] builds your plugin with `Default::default()` for
//! every call and why the trait methods take `&self` — the value is a convenient place for state
//! derived within one call, not a cache. Anything that must persist goes through [`storage`], which
//! is namespaced per plugin *and* per account by the host.
//!
//! Every host function returns a typed [`Error`] rather than trapping, and every hook returns
//! `Result<_, Error>`, so `?` works throughout and failures reach the host (and its logs) as typed
//! values. A panic aborts the instance; the host treats it as a failed call.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod ext;
mod paging;
mod plugin;

pub mod accounts;
pub mod config;
pub mod events;
pub mod followers;
pub mod html;
pub mod http;
pub mod links;
pub mod log;
pub mod media;
pub mod messaging;
pub mod plugins;
pub mod router;
pub mod scheduling;
pub mod signing;
pub mod storage;
pub mod tags;
pub mod time;

pub use ext::ErrorDisplay;
pub use plugin::Plugin;

/// `Result` with the platform [`Error`] as its default error type, as every hook and host
/// function returns. In the [`prelude`]; `Result<T, OtherError>` still works.
pub type Result<T, E = Error> = core::result::Result<T, E>;

pub use crate::__private::plaza::platform::types::{
    Account, AccountId, AccountKind, Article, CallContext, Content, Error, Event, FollowerEvent,
    FollowerEventKind, Header, HttpRequest, HttpResponse, InboundBody, InboundMessage, Link,
    Location, Media, MiniProgramCard, MiniProgramPage, Openid, QuotaInfo, ReviewVerdict,
    TimerFired, Timestamp, TopicMessage,
};

/// The names almost every plugin needs: `use plaza_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CallContext, Content, Error, Event, FollowerEvent, FollowerEventKind, HttpRequest,
        HttpResponse, InboundBody, InboundMessage, Plugin, Result, ReviewVerdict,
    };
}

/// Exports a [`Plugin`] type as this component's implementation of `plaza:platform/handler`.
///
/// Invoke it exactly once, at the root of a `cdylib` crate:
///
/// ```ignore
/// plaza_sdk::register!(MyPlugin);
/// ```
///
/// On `wasm32` it expands to the generated component exports (the canonical-ABI glue that
/// wit-bindgen writes; none of it is hand-written) wired to a shim that builds
/// `MyPlugin::default()` for each call and delegates to the matching [`Plugin`] method.
///
/// On other targets it only checks that `MyPlugin` implements [`Plugin`]: there is no host to
/// call exports there, and their names (`plaza:platform/handler@0.2.0#on-message`) are not valid
/// symbols for native linkers, so emitting them would break `cargo test` on a `cdylib` plugin.
#[macro_export]
macro_rules! register {
    ($plugin:ty $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type __PlazaPluginExport = $crate::__private::Shim<$plugin>;
    $crate::__private::export_plugin!(__PlazaPluginExport with_types_in $crate::__private);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = $crate::__private::assert_plugin::<$plugin>();
    };
}

/// Implementation details used by [`register!`]. Not part of the public API: nothing here is
/// covered by semver.
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod __private {
    wit_bindgen::generate!({
        path: "../wit/since_v0.2.0",
        world: "plugin",
        // `register!` expands in the plugin's crate, so the export macro must be reachable from there…
        pub_export_macro: true,
        export_macro_name: "export_plugin",
        // …and must find the generated types here, not next to its call site.
        default_bindings_module: "::plaza_sdk::__private",
        additional_derives: [PartialEq],
    });

    pub use crate::plugin::Shim;

    /// Compile-time check used by `register!` on non-wasm targets.
    pub const fn assert_plugin<P: crate::Plugin>() {}
}
