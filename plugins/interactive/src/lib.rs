//! # interactive — votes, questionnaires, check-in challenges, favourites (互动组件)
//!
//! Components an account uses from messages and embeds in articles:
//!
//! * **Votes / polls** ([`vote`]): single or multiple choice, one ballot per follower (enforced
//!   through the follower's signed link and an atomic `storage::batch`), an optional deadline,
//!   live results (public JSON and on the page).
//! * **Questionnaires** ([`survey`]): typed fields (text, textarea, number with min/max, single
//!   and multiple choice, date, phone, e-mail), required fields, errors shown per field on the
//!   page (and listed in a JSON `400`), one response per follower, CSV export for operators.
//! * **Check-in challenges** ([`challenge`]), e.g. 21 days: a start date in the account's
//!   timezone, one check-in per local day (from the page or by sending the keyword), streaks,
//!   missed days, a leaderboard, and on completion points through the membership plugin's
//!   `member.award_points` when it is installed and `query:membership` is granted.
//! * **Favourites** ([`favourites`]): articles a follower saved, with a list page.
//!
//! A follower reaches everything through links the account sends: a keyword (configurable;
//! defaults `投票`/`vote`, `问卷`/`survey`, `打卡`/`challenge`, `收藏`/`favourites`) answers
//! with an article link signed for that follower. Pages post their forms back to links the
//! plugin signs while rendering them (the host strips the token before the plugin sees a
//! request, so a page cannot echo it). Articles embed components by short code
//! (`[vote id=…]`, [`shortcode`]), rendered through `on-query` `component.render`.
//!
//! Routes, configuration and capabilities: see `README.md`; the route table is in [`routes`].
#![forbid(unsafe_code)]

pub mod challenge;
pub mod config;
pub mod favourites;
pub mod pages;
pub mod routes;
pub mod shortcode;
pub mod survey;
pub mod text;
pub mod vote;

use plaza_sdk::prelude::*;

#[derive(Default)]
struct Interactive;

impl Plugin for Interactive {
    fn on_message(&self, ctx: &CallContext, msg: InboundMessage) -> Result<Option<Content>> {
        routes::on_message(ctx, &msg)
    }

    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        routes::handle(ctx, &req)
    }

    fn on_query(&self, ctx: &CallContext, name: &str, payload: Vec<u8>) -> Result<Vec<u8>> {
        routes::on_query(ctx, name, &payload)
    }
}

plaza_sdk::register!(Interactive);
