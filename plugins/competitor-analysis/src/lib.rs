//! 竞品分析 Competitor analysis — peer accounts' metrics, title keywords, weekly report.
//!
//! (Skeleton: the behaviour lands with issue 10.)
#![forbid(unsafe_code)]
use plaza_sdk::prelude::*;

#[derive(Default)]
struct Skeleton;

impl Plugin for Skeleton {}

plaza_sdk::register!(Skeleton);
