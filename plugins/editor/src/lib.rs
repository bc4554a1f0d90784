//! 编辑器集成 Editor — articles, third-party editor import (135/秀米), components by short code, publishing.
//!
//! (Skeleton: the behaviour lands with issue 10.)
#![forbid(unsafe_code)]
use plaza_sdk::prelude::*;

#[derive(Default)]
struct Skeleton;

impl Plugin for Skeleton {}

plaza_sdk::register!(Skeleton);
