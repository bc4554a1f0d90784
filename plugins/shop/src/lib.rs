//! 电商 Shop — catalogue, cart, orders, payments, coupons, external-shop bridge.
//!
//! (Skeleton: the behaviour lands with issue 10.)
#![forbid(unsafe_code)]
use plaza_sdk::prelude::*;

#[derive(Default)]
struct Skeleton;

impl Plugin for Skeleton {}

plaza_sdk::register!(Skeleton);
