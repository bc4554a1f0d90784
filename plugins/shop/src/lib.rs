//! 电商 Shop — catalogue, cart, orders, payments, coupons, external-shop bridge.
//!
//! (Skeleton: the behaviour lands with issue 10.)
#![forbid(unsafe_code)]

pub mod bridge;
pub mod external;

use plaza_sdk::prelude::*;

#[derive(Default)]
struct Shop;

impl Plugin for Shop {}

plaza_sdk::register!(Shop);
