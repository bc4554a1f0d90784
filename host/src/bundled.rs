//! The plugins built into the `plaza` binary (see `build.rs`), registered on every start.

/// A first-party plugin: its manifest and its component.
pub struct BundledPlugin {
    pub manifest: &'static str,
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
