//! # shop — 电商: catalogue, cart, orders, payments, coupons, live announcements
//!
//! * **Catalogue** ([`catalogue`]): products with SKUs; stock is a storage counter per SKU.
//! * **Orders** ([`orders`]): checkout reserves stock, applies the member discount (asked of
//!   membership) and a coupon in ONE `storage.batch`, so parallel buyers never oversell; a state
//!   machine (created → paid → shipped → completed; cancelled; refunded) with its transition table
//!   in one place and every move recorded with who made it; unpaid orders expire (timer).
//! * **Payments** ([`pay`]): WeChat-Pay-v2-style notifications at `POST /pay/notify`, signed
//!   (MD5 / HMAC-SHA256), verified in constant time, amount checked, idempotent on the
//!   transaction id. Paid → `shop.order.paid` published, event emitted, template message.
//! * **Coupons** ([`coupons`]): issued to a segment, redeemed at checkout or at the counter (核销).
//! * **Pages** ([`routes`]): product pages, the follower's orders and coupons, a mini-program
//!   card, live-stream (视频号) announcements with a banner on product pages; `component.render`
//!   kind `product` for the editor.
//! * **Bridge** ([`bridge`], [`external`]): external shops' webhooks and catalogue sync.
#![forbid(unsafe_code)]

pub mod bridge;
pub mod catalogue;
pub mod config;
pub mod coupons;
pub mod external;
pub mod orders;
pub mod pay;
pub mod refunds;
pub mod routes;
pub mod util;

use plaza_sdk::prelude::*;
use plaza_sdk::{Link, links, log};

#[derive(Default)]
struct Shop;

impl Plugin for Shop {
    fn on_message(&self, _ctx: &CallContext, msg: InboundMessage) -> Result<Option<Content>> {
        let Some(text) = msg.text() else {
            return Ok(None);
        };
        match text.trim().to_lowercase().as_str() {
            "商城" | "购物" | "shop" | "store" => {
                let hours = config::Config::load().map(|c| c.link_hours).unwrap_or(72);
                let url = links::follower_url(&msg.from, "/", hours * 3600)?;
                Ok(Some(Content::ArticleLink(Link {
                    title: "商城 Shop".into(),
                    description: "商品、订单与优惠券 Products, orders and coupons".into(),
                    url,
                })))
            }
            _ => Ok(None),
        }
    }

    fn on_event(&self, _ctx: &CallContext, ev: Event) -> Result<Option<Content>> {
        if let Event::Timer(t) = ev {
            let payload = String::from_utf8_lossy(&t.payload).into_owned();
            if let Some(id) = payload.strip_prefix("expire:") {
                orders::expire(id)?;
            } else if let Some(id) = payload.strip_prefix("complete:") {
                orders::auto_complete(id)?;
            } else {
                log::warn(format!("unknown timer {payload:?}"));
            }
        }
        Ok(None)
    }

    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        routes::handle(ctx, &req)
    }

    fn on_query(&self, ctx: &CallContext, name: &str, payload: Vec<u8>) -> Result<Vec<u8>> {
        routes::on_query(ctx, name, &payload)
    }
}

plaza_sdk::register!(Shop);
