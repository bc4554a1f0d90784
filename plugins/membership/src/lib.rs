//! # membership (skeleton — being written)
#![forbid(unsafe_code)]

use plaza_sdk::prelude::*;

#[derive(Default)]
struct Skeleton;

impl Plugin for Skeleton {}

plaza_sdk::register!(Skeleton);
