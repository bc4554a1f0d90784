//! # moderation — 内容安全 (content safety)
//!
//! * **Word lists** ([`matcher`]): a platform list that ships with the plugin
//!   ([`config::PLATFORM_WORDS`]), lists in the configuration, and lists stored by operators
//!   through `PUT /lists/{name}` ([`routes`]). Each list has an action — `block`, `mask` (`***`)
//!   or `hold` for review; when several lists match, the strongest wins (block > hold > mask).
//!   Matching is Aho–Corasick over [normalised](normalize) text, so full-width forms, case and
//!   inserted spaces or punctuation do not get a word past it; masking replaces what was typed.
//! * **Outbound** (`review-outbound`): every passive reply, customer-service message, template
//!   message and broadcast of the account passes [`Moderation::review_outbound`]. A held
//!   one-to-one message is blocked now and stored in the review queue ([`held`]); an operator's
//!   approval delivers it as a customer-service message, exactly once. A broadcast has no single
//!   recipient to deliver to later, so a `hold` match *blocks* a broadcast (the reason says so).
//! * **Inbound** (`on-message`, never answers): a text message matching a list is recorded as the
//!   event `moderation.inbound.flagged` and, with `alert_openid` configured, reported to that
//!   operator as a customer-service message.
//! * **Images** ([`images`]): outbound images are `POST`ed to `image_review_url` over granted
//!   outbound HTTP; the service approves or rejects; a failure blocks unless
//!   `image_review_failure` is `open`.
#![forbid(unsafe_code)]

pub mod config;
pub mod content;
pub mod held;
pub mod images;
pub mod matcher;
pub mod normalize;
pub mod routes;

use plaza_sdk::prelude::*;
use plaza_sdk::{events, http, log, media, messaging};

use crate::config::Config;
use crate::images::ImageDecision;
use crate::matcher::{Action, Matcher};

/// The kind of the event recorded for a flagged inbound message.
pub const FLAGGED_EVENT: &str = "moderation.inbound.flagged";

#[derive(Default)]
struct Moderation;

impl Plugin for Moderation {
    fn on_message(&self, ctx: &CallContext, msg: InboundMessage) -> Result<Option<Content>> {
        let config: Config = plaza_sdk::config::parse()?;
        let Some(text) = msg.text() else {
            return Ok(None);
        };
        if !config.flag_inbound {
            return Ok(None);
        }
        let matcher = Matcher::new(&routes::all_lists(&config)?).map_err(Error::internal)?;
        let Some(finding) = matcher.scan(text) else {
            return Ok(None);
        };
        let words = finding.words.join(",");
        let lists = finding.lists.join(",");
        let flagged = events::emit(
            FLAGGED_EVENT,
            Some(&msg.from),
            &[
                ("msg_id", &msg.msg_id),
                ("words", &words),
                ("lists", &lists),
                ("action", finding.action.as_str()),
            ],
        );
        if let Err(e) = flagged {
            log::warn(format!("cannot record {FLAGGED_EVENT}: {}", e.message()));
        }
        if let Some(operator) = &config.alert_openid {
            let alert = alert_text(&ctx.account.id, &msg.from, &finding.words, text);
            if let Err(e) = messaging::send_text(operator, alert) {
                log::warn(format!(
                    "cannot alert operator {operator} of a flagged message: {}",
                    e.message()
                ));
            }
        }
        // Moderation never answers: the account's other plugins do.
        Ok(None)
    }

    fn review_outbound(&self, ctx: &CallContext, content: Content) -> Result<ReviewVerdict> {
        let config: Config = plaza_sdk::config::parse()?;
        if let Content::Image(image) = &content {
            return Ok(match &config.image_review_url {
                Some(url) => {
                    match review_image(ctx, url, &image.media_id, config.image_review_failure) {
                        ImageDecision::Allow => ReviewVerdict::Allow,
                        ImageDecision::Block(reason) => ReviewVerdict::Block(reason),
                    }
                }
                None => ReviewVerdict::Allow,
            });
        }
        if content::texts(&content).is_empty() {
            return Ok(ReviewVerdict::Allow);
        }
        let matcher = Matcher::new(&routes::all_lists(&config)?).map_err(Error::internal)?;
        review_text(&matcher, ctx.follower.as_deref(), content, routes::hold)
    }

    fn on_http(&self, ctx: &CallContext, req: HttpRequest) -> Result<HttpResponse> {
        routes::handle(ctx, &req)
    }
}

plaza_sdk::register!(Moderation);

/// The verdict on text-bearing content. `to` is the recipient of a one-to-one message (`None`
/// for a broadcast); `hold` stores a held message and returns its id.
pub fn review_text(
    matcher: &Matcher,
    to: Option<&str>,
    content: Content,
    hold: impl FnOnce(&str, &Content, &matcher::Finding) -> Result<String>,
) -> Result<ReviewVerdict> {
    let Some(finding) = content::scan(matcher, &content) else {
        return Ok(ReviewVerdict::Allow);
    };
    Ok(match (finding.action, to) {
        (Action::Mask, _) => ReviewVerdict::Mask(content::masked(matcher, &content)),
        (Action::Block, _) => ReviewVerdict::Block(content::reason(&finding)),
        (Action::Hold, Some(to)) => {
            let id = hold(to, &content, &finding)?;
            ReviewVerdict::Block(format!(
                "{}; review item {id} (approve or reject it at /p/{{account}}/moderation/held/{id})",
                content::reason(&finding)
            ))
        }
        (Action::Hold, None) => ReviewVerdict::Block(format!(
            "{}; a broadcast cannot be held (approval delivers to one follower), so it is blocked",
            content::reason(&finding)
        )),
    })
}

/// Asks the review service about one image (see [`images`]).
fn review_image(
    ctx: &CallContext,
    url: &str,
    media_id: &str,
    policy: config::FailurePolicy,
) -> ImageDecision {
    let answer = media::get(media_id)
        .map_err(|e| format!("cannot read image {media_id}: {}", e.message()))
        .and_then(|blob| {
            http::request(
                "POST",
                url,
                &[
                    ("content-type", blob.content_type.as_str()),
                    ("x-plaza-account", ctx.account.id.as_str()),
                    ("x-plaza-media-id", media_id),
                ],
                &blob.bytes,
            )
            .map_err(|e| format!("{}: {}", e.code(), e.message()))
        })
        .and_then(|response| images::parse_answer(response.status, &response.body));
    if let Err(failure) = &answer {
        log::warn(format!("image review of {media_id} failed: {failure}"));
    }
    images::decide(answer, policy)
}

/// The alert an operator gets for a flagged inbound message (Chinese first, then English).
pub fn alert_text(account: &str, from: &str, words: &[String], text: &str) -> String {
    let excerpt: String = text.chars().take(200).collect();
    format!(
        "【内容安全】账号 {account} 的粉丝 {from} 发来的消息命中敏感词：{w}\n\
         [Moderation] follower {from} of {account} sent a message matching: {w}\n\
         「{excerpt}」",
        w = words.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::WordList;

    fn matcher() -> Matcher {
        Matcher::new(&[
            WordList {
                name: "m".into(),
                action: Action::Mask,
                words: vec!["spam".into()],
            },
            WordList {
                name: "h".into(),
                action: Action::Hold,
                words: vec!["refund".into()],
            },
            WordList {
                name: "b".into(),
                action: Action::Block,
                words: vec!["gun".into()],
            },
        ])
        .unwrap()
    }

    fn no_hold(_: &str, _: &Content, _: &matcher::Finding) -> Result<String> {
        panic!("nothing should be held")
    }

    #[test]
    fn clean_masked_and_blocked_text() {
        let m = matcher();
        assert_eq!(
            review_text(&m, Some("o"), Content::text("hello"), no_hold).unwrap(),
            ReviewVerdict::Allow
        );
        assert_eq!(
            review_text(&m, Some("o"), Content::text("S.P.A.M!"), no_hold).unwrap(),
            ReviewVerdict::Mask(Content::text("***!"))
        );
        let ReviewVerdict::Block(reason) =
            review_text(&m, None, Content::text("ＧＵＮ spam refund"), no_hold).unwrap()
        else {
            panic!()
        };
        assert!(reason == "blocked: 3 words of list m, h, b", "{reason}");
    }

    #[test]
    fn hold_stores_one_to_one_messages_and_blocks_broadcasts() {
        let m = matcher();
        let mut held = Vec::new();
        let verdict = review_text(&m, Some("o-1"), Content::text("a re fund"), |to, c, f| {
            held.push((to.to_string(), c.clone(), f.words.clone()));
            Ok("h0000000001".into())
        })
        .unwrap();
        let ReviewVerdict::Block(reason) = verdict else {
            panic!()
        };
        assert!(reason.contains("review item h0000000001"), "{reason}");
        assert_eq!(
            held,
            [(
                "o-1".to_string(),
                Content::text("a re fund"),
                vec!["refund".to_string()]
            )]
        );
        let ReviewVerdict::Block(reason) =
            review_text(&m, None, Content::text("refund"), no_hold).unwrap()
        else {
            panic!()
        };
        assert!(reason.contains("broadcast cannot be held"), "{reason}");
    }

    #[test]
    fn alerts_name_follower_and_words() {
        let a = alert_text("shop", "o-1", &["x".into()], "hi x");
        assert!(a.contains("o-1") && a.contains("x") && a.starts_with("【内容安全】"));
    }
}
