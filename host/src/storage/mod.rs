//! Storage: the backend trait the whole host writes through, group commit for durability, and the
//! per-installation key/value store plugins reach through the `storage` WIT import.

pub mod backend;
pub mod durability;
pub mod host;
pub mod plugin_kv;

pub use backend::{Backend, SledBackend, Tree};
pub use durability::GroupCommit;
pub use plugin_kv::{KvLimits, KvNamespace, PluginKv};
