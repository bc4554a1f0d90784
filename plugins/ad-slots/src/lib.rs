//! 广告位 Ad slots — 流量主 in-article ads with fraud checks and CPC/CPM billing, 互选 brand campaigns.
//!
//! (Skeleton: the behaviour lands with issue 10.)
#![forbid(unsafe_code)]
use plaza_sdk::prelude::*;

#[derive(Default)]
struct Skeleton;

impl Plugin for Skeleton {}

plaza_sdk::register!(Skeleton);
