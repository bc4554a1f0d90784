//! plaza-host: the Plaza runtime, storage, channels, HTTP server and the `plaza` CLI.
//!
//! One module per concern, each owning its storage schema, its WIT host impl and its tests:
//! `runtime` (engine, cache, limits, calls), `accounts`, `storage`, `messaging`, `scheduling`,
//! `channels`, `plugins`, `api`, `cli`. `platform` wires them over one data directory.

pub mod accounts;
pub mod api;
pub mod audit;
pub mod bundled;
pub mod channels;
pub mod cli;
pub mod console;
pub mod demo;
pub mod error;
pub mod events;
pub mod harness;
pub mod http_outbound;
pub mod links;
pub mod media;
pub mod menus;
pub mod messaging;
pub mod metrics;
pub mod platform;
pub mod plugin_api;
pub mod plugins;
pub mod runtime;
pub mod scheduling;
pub mod service_desk;
pub mod storage;
pub mod templates;
pub mod tokens;
pub mod topics;
pub mod wechat;
pub mod wechat_api;

pub use error::{PlazaError, Result};
pub use platform::{Platform, PlatformOptions};
