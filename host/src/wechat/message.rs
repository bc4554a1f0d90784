//! Messages and events in WeChat's XML, both ways: a push read into Plaza's channel-neutral
//! [`Inbound`] (bridge channel), an [`Inbound`] written as the push a developer server expects
//! (developer-server channel), and passive replies written from and read into
//! [`MessageContent`].
//!
//! Reading a push goes through the local channel's [`InboundJson`], so a message is held to the
//! same bounds and rules whichever channel brought it.

use sha2::{Digest, Sha256};

use super::xml::{Element, XmlWriter};
use crate::channels::local::InboundJson;
use crate::channels::{Inbound, InboundKind};
use crate::error::{PlazaError, Result};
use crate::messaging::content::{Article, MessageContent};
use crate::plugin_api as api;

/// What a push is to Plaza.
#[derive(Debug)]
pub enum Push {
    /// A follower's message or event: runs the inbound pipeline.
    Inbound(Inbound),
    /// A report WeChat sends about the account's own sends (TEMPLATESENDJOBFINISH,
    /// MASSSENDJOBFINISH, PUBLISHJOBFINISH, …) or a type Plaza does not handle: acknowledged,
    /// nothing runs.
    Report { event: String },
}

/// Reads a decrypted push into Plaza's terms. `now_ms` stamps a push without `CreateTime`.
pub fn read_push(doc: &Element, now_ms: u64) -> Result<Push> {
    let field = |n: &str| doc.non_empty(n).map(str::to_string);
    let from =
        field("FromUserName").ok_or_else(|| PlazaError::invalid("the push has no FromUserName"))?;
    let msg_type = field("MsgType")
        .ok_or_else(|| PlazaError::invalid("the push has no MsgType"))?
        .to_ascii_lowercase();
    let create_time = match doc.non_empty("CreateTime") {
        Some(t) => Some(t.parse::<u64>().map_err(|_| {
            PlazaError::invalid(format!("CreateTime {t:?} is not a number of seconds"))
        })?),
        None => None,
    };
    let number = |n: &str| -> Result<Option<f64>> {
        match doc.non_empty(n) {
            Some(v) => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| PlazaError::invalid(format!("{n} {v:?} is not a number"))),
            None => Ok(None),
        }
    };
    let mut json = InboundJson {
        msg_id: field("MsgId").or_else(|| field("MsgID")),
        from,
        msg_type: msg_type.clone(),
        content: None,
        media_id: field("MediaId"),
        url: None,
        latitude: None,
        longitude: None,
        scale: None,
        label: None,
        title: field("Title"),
        description: field("Description"),
        event: None,
        event_key: None,
        create_time,
    };
    match msg_type.as_str() {
        "text" => json.content = Some(doc.text_of("Content").unwrap_or_default().to_string()),
        "image" => json.url = field("PicUrl"),
        "voice" => {}
        "video" | "shortvideo" => json.msg_type = "video".into(),
        "location" => {
            json.latitude = number("Location_X")?;
            json.longitude = number("Location_Y")?;
            json.scale = number("Scale")?.map(|s| s.clamp(0.0, u32::MAX as f64) as u32);
            json.label = field("Label");
        }
        "link" => json.url = field("Url"),
        "event" => {
            let event = field("Event").unwrap_or_default();
            let key = field("EventKey");
            let (name, key) = match event.as_str() {
                "subscribe" => ("subscribe", key.map(|k| scene(&k))),
                "unsubscribe" => ("unsubscribe", None),
                "SCAN" => ("scan", key),
                "CLICK" => ("click", key),
                "VIEW" | "view_miniprogram" => ("view", key),
                // The scan, photo and location buttons report their key like a click (the local
                // channel's contract names them as WeChat does).
                e if crate::menus::KEYED.contains(&e) => (e, key),
                "LOCATION" => {
                    json.latitude = number("Latitude")?;
                    json.longitude = number("Longitude")?;
                    ("location", None)
                }
                _ => return Ok(Push::Report { event }),
            };
            json.event = Some(name.into());
            json.event_key = key;
            // An event is not a message: no id of its own (de-duplicated by sender + time).
            json.msg_id = None;
        }
        _ => {
            return Ok(Push::Report {
                event: format!("msgtype:{msg_type}"),
            });
        }
    }
    json.into_inbound(now_ms).map(Push::Inbound)
}

/// A subscription through a parametric QR code carries `qrscene_<scene>`; the scene is what
/// matters to plugins.
fn scene(key: &str) -> String {
    key.strip_prefix("qrscene_").unwrap_or(key).to_string()
}

/// A WeChat `MsgId` for a Plaza message id: the id itself when it is a number (WeChat's own, or
/// a bridge passing them through), else a number derived from it — SDKs parse `MsgId` as an
/// integer, and a retry must carry the same one.
pub fn numeric_msg_id(msg_id: &str) -> u64 {
    if let Ok(n) = msg_id.parse::<u64>() {
        return n;
    }
    let digest = Sha256::digest(msg_id.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(n) >> 1
}

/// Writes an inbound message or event as the push a developer server receives.
pub fn write_push(original_id: &str, inbound: &Inbound) -> String {
    let mut w = XmlWriter::new();
    w.cdata("ToUserName", original_id)
        .cdata("FromUserName", &inbound.from)
        .bare("CreateTime", inbound.at / 1000);
    match &inbound.kind {
        InboundKind::Message { msg_id, body } => {
            match body {
                api::InboundBody::Text(text) => {
                    w.cdata("MsgType", "text").cdata("Content", text);
                }
                api::InboundBody::Image(m) => {
                    w.cdata("MsgType", "image")
                        .cdata("PicUrl", m.url.as_deref().unwrap_or_default())
                        .cdata("MediaId", &m.media_id);
                }
                api::InboundBody::Voice(m) => {
                    w.cdata("MsgType", "voice")
                        .cdata("MediaId", &m.media_id)
                        .cdata("Format", "amr");
                }
                api::InboundBody::Video(m) => {
                    w.cdata("MsgType", "video")
                        .cdata("MediaId", &m.media_id)
                        .cdata("ThumbMediaId", "");
                }
                api::InboundBody::Location(l) => {
                    w.cdata("MsgType", "location")
                        .bare("Location_X", l.latitude)
                        .bare("Location_Y", l.longitude)
                        .bare("Scale", l.scale)
                        .cdata("Label", &l.label);
                }
                api::InboundBody::Link(l) => {
                    w.cdata("MsgType", "link")
                        .cdata("Title", &l.title)
                        .cdata("Description", &l.description)
                        .cdata("Url", &l.url);
                }
            }
            w.bare("MsgId", numeric_msg_id(msg_id));
        }
        InboundKind::Event(kind) => {
            w.cdata("MsgType", "event");
            match kind {
                api::FollowerEventKind::Subscribe(scene) => {
                    w.cdata("Event", "subscribe");
                    if let Some(s) = scene {
                        w.cdata("EventKey", &format!("qrscene_{s}"));
                    } else {
                        w.cdata("EventKey", "");
                    }
                }
                api::FollowerEventKind::Unsubscribe => {
                    w.cdata("Event", "unsubscribe").cdata("EventKey", "");
                }
                api::FollowerEventKind::MenuClick(k) => {
                    w.cdata("Event", "CLICK").cdata("EventKey", k);
                }
                api::FollowerEventKind::MenuView(k) => {
                    w.cdata("Event", "VIEW").cdata("EventKey", k);
                }
                api::FollowerEventKind::Scan(k) => {
                    w.cdata("Event", "SCAN").cdata("EventKey", k);
                }
                api::FollowerEventKind::Location(l) => {
                    w.cdata("Event", "LOCATION")
                        .bare("Latitude", l.latitude)
                        .bare("Longitude", l.longitude)
                        .bare("Precision", 0);
                }
            }
        }
    }
    w.finish()
}

/// Most articles in a passive reply to a message (WeChat's current rule); other replies (to
/// events) may carry [`MAX_NEWS_ARTICLES`].
pub const MAX_NEWS_REPLY_TO_MESSAGE: usize = 1;
pub const MAX_NEWS_ARTICLES: usize = 8;

/// Writes a passive reply, or `None` when the content cannot be one (a mini-program card: it
/// goes out as a customer-service message instead). `max_articles` bounds a news reply.
pub fn write_reply(
    content: &MessageContent,
    to_openid: &str,
    original_id: &str,
    create_time_s: u64,
    max_articles: usize,
) -> Option<String> {
    let mut w = XmlWriter::new();
    w.cdata("ToUserName", to_openid)
        .cdata("FromUserName", original_id)
        .bare("CreateTime", create_time_s);
    let news = |w: &mut XmlWriter, articles: &[Article]| {
        let shown = &articles[..articles.len().min(max_articles.max(1))];
        w.cdata("MsgType", "news")
            .bare("ArticleCount", shown.len())
            .open("Articles");
        for a in shown {
            w.open("item")
                .cdata("Title", &a.title)
                .cdata("Description", &a.description)
                .cdata("PicUrl", a.picture_url.as_deref().unwrap_or_default())
                .cdata("Url", &a.url)
                .close("item");
        }
        w.close("Articles");
    };
    match content {
        MessageContent::Text { content } => {
            w.cdata("MsgType", "text").cdata("Content", content);
        }
        MessageContent::Image { media_id, .. } => {
            w.cdata("MsgType", "image")
                .open("Image")
                .cdata("MediaId", media_id)
                .close("Image");
        }
        MessageContent::Voice { media_id, .. } => {
            w.cdata("MsgType", "voice")
                .open("Voice")
                .cdata("MediaId", media_id)
                .close("Voice");
        }
        MessageContent::Video { media_id, .. } => {
            w.cdata("MsgType", "video")
                .open("Video")
                .cdata("MediaId", media_id)
                .cdata("Title", "")
                .cdata("Description", "")
                .close("Video");
        }
        MessageContent::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => {
            w.cdata("MsgType", "music")
                .open("Music")
                .cdata("Title", title)
                .cdata("Description", description)
                .cdata("MusicUrl", music_url)
                .cdata("HQMusicUrl", hq_music_url.as_deref().unwrap_or(music_url))
                .cdata(
                    "ThumbMediaId",
                    thumb_media_id.as_deref().unwrap_or_default(),
                )
                .close("Music");
        }
        MessageContent::News { articles } => news(&mut w, articles),
        MessageContent::ArticleLink {
            title,
            description,
            url,
        } => news(
            &mut w,
            &[Article {
                title: title.clone(),
                description: description.clone(),
                url: url.clone(),
                picture_url: None,
            }],
        ),
        MessageContent::TransferCustomerService => {
            w.cdata("MsgType", "transfer_customer_service");
        }
        MessageContent::MiniProgram { .. } => return None,
    }
    Some(w.finish())
}

/// Reads a passive reply (from a developer server) into content. `None`: no reply.
pub fn read_reply(doc: &Element) -> Result<Option<MessageContent>> {
    let bad = |m: &str| PlazaError::invalid(format!("the reply is not a valid passive reply: {m}"));
    let msg_type = doc
        .non_empty("MsgType")
        .ok_or_else(|| bad("no MsgType"))?
        .to_ascii_lowercase();
    let media = |wrapper: &str| -> Result<String> {
        doc.child(wrapper)
            .and_then(|w| w.non_empty("MediaId"))
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("{wrapper}/MediaId is missing")))
    };
    let text = |el: &Element, n: &str| el.text_of(n).unwrap_or_default().to_string();
    let content = match msg_type.as_str() {
        "text" => MessageContent::Text {
            content: text(doc, "Content"),
        },
        "image" => MessageContent::Image {
            media_id: media("Image")?,
            url: None,
        },
        "voice" => MessageContent::Voice {
            media_id: media("Voice")?,
            url: None,
        },
        "video" => MessageContent::Video {
            media_id: media("Video")?,
            url: None,
        },
        "music" => {
            let m = doc.child("Music").ok_or_else(|| bad("no Music"))?;
            let music_url = m
                .non_empty("MusicUrl")
                .or_else(|| m.non_empty("HQMusicUrl"))
                .ok_or_else(|| bad("Music/MusicUrl is missing"))?
                .to_string();
            MessageContent::Music {
                title: text(m, "Title"),
                description: text(m, "Description"),
                music_url,
                hq_music_url: m.non_empty("HQMusicUrl").map(str::to_string),
                thumb_media_id: m.non_empty("ThumbMediaId").map(str::to_string),
            }
        }
        "news" => {
            let articles: Vec<Article> = doc
                .child("Articles")
                .map(|a| {
                    a.children_named("item")
                        .map(|i| Article {
                            title: text(i, "Title"),
                            description: text(i, "Description"),
                            url: text(i, "Url"),
                            picture_url: i.non_empty("PicUrl").map(str::to_string),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if articles.is_empty() || articles.len() > 10 {
                return Err(bad("a news reply carries 1 to 10 articles"));
            }
            MessageContent::News { articles }
        }
        "transfer_customer_service" => MessageContent::TransferCustomerService,
        other => return Err(bad(&format!("unknown MsgType {other:?}"))),
    };
    Ok(Some(content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::xml::parse;

    fn push(xml: &str) -> Push {
        read_push(&parse(xml).unwrap(), 5_000).unwrap()
    }

    fn inbound(xml: &str) -> Inbound {
        match push(xml) {
            Push::Inbound(i) => i,
            other => panic!("{other:?}"),
        }
    }

    const HEAD: &str = "<ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUSER]]></FromUserName><CreateTime>1348831860</CreateTime>";

    #[test]
    fn reads_every_message_type() {
        let t = inbound(&format!(
            "<xml>{HEAD}<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>1234567890123456</MsgId></xml>"
        ));
        assert_eq!(t.from, "oUSER");
        assert_eq!(t.at, 1_348_831_860_000);
        assert_eq!(t.dedup_key.as_deref(), Some("msg:1234567890123456"));
        assert!(
            matches!(&t.kind, InboundKind::Message { body: api::InboundBody::Text(s), .. } if s == "hi")
        );
        let i = inbound(&format!(
            "<xml>{HEAD}<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://p]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>2</MsgId></xml>"
        ));
        assert!(
            matches!(&i.kind, InboundKind::Message { body: api::InboundBody::Image(m), .. } if m.media_id == "m1" && m.url.as_deref() == Some("http://p"))
        );
        let v = inbound(&format!(
            "<xml>{HEAD}<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m2]]></MediaId><Format><![CDATA[amr]]></Format><MsgId>3</MsgId></xml>"
        ));
        assert!(matches!(
            &v.kind,
            InboundKind::Message {
                body: api::InboundBody::Voice(_),
                ..
            }
        ));
        let sv = inbound(&format!(
            "<xml>{HEAD}<MsgType><![CDATA[shortvideo]]></MsgType><MediaId><![CDATA[m3]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId><MsgId>4</MsgId></xml>"
        ));
        assert!(matches!(
            &sv.kind,
            InboundKind::Message {
                body: api::InboundBody::Video(_),
                ..
            }
        ));
        let l = inbound(&format!(
            "<xml>{HEAD}<MsgType><![CDATA[location]]></MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[位置]]></Label><MsgId>5</MsgId></xml>"
        ));
        assert!(
            matches!(&l.kind, InboundKind::Message { body: api::InboundBody::Location(p), .. } if p.scale == 20 && p.label == "位置" && (p.latitude - 23.134521).abs() < 1e-9)
        );
        let k = inbound(&format!(
            "<xml>{HEAD}<MsgType><![CDATA[link]]></MsgType><Title><![CDATA[T]]></Title><Description><![CDATA[D]]></Description><Url><![CDATA[http://u]]></Url><MsgId>6</MsgId></xml>"
        ));
        assert!(
            matches!(&k.kind, InboundKind::Message { body: api::InboundBody::Link(l), .. } if l.url == "http://u")
        );
    }

    #[test]
    fn reads_every_event_type_and_acknowledges_reports() {
        let ev = |e: &str, extra: &str| {
            inbound(&format!(
                "<xml>{HEAD}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{e}]]></Event>{extra}</xml>"
            ))
        };
        let s = ev(
            "subscribe",
            "<EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[T]]></Ticket>",
        );
        assert!(
            matches!(&s.kind, InboundKind::Event(api::FollowerEventKind::Subscribe(Some(k))) if k == "123123")
        );
        assert_eq!(
            s.dedup_key.as_deref(),
            Some("event:oUSER:1348831860:subscribe")
        );
        let plain = ev("subscribe", "<EventKey><![CDATA[]]></EventKey>");
        assert!(matches!(
            &plain.kind,
            InboundKind::Event(api::FollowerEventKind::Subscribe(None))
        ));
        assert!(matches!(
            ev("unsubscribe", "").kind,
            InboundKind::Event(api::FollowerEventKind::Unsubscribe)
        ));
        assert!(
            matches!(&ev("SCAN", "<EventKey><![CDATA[S]]></EventKey>").kind, InboundKind::Event(api::FollowerEventKind::Scan(k)) if k == "S")
        );
        assert!(
            matches!(&ev("CLICK", "<EventKey><![CDATA[K]]></EventKey>").kind, InboundKind::Event(api::FollowerEventKind::MenuClick(k)) if k == "K")
        );
        assert!(
            matches!(&ev("scancode_push", "<EventKey><![CDATA[Q]]></EventKey><ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo>").kind, InboundKind::Event(api::FollowerEventKind::MenuClick(k)) if k == "Q")
        );
        assert!(
            matches!(&ev("VIEW", "<EventKey><![CDATA[http://x]]></EventKey><MenuId>1</MenuId>").kind, InboundKind::Event(api::FollowerEventKind::MenuView(k)) if k == "http://x")
        );
        assert!(matches!(
            &ev(
                "LOCATION",
                "<Latitude>23.1</Latitude><Longitude>113.3</Longitude><Precision>119.3</Precision>"
            )
            .kind,
            InboundKind::Event(api::FollowerEventKind::Location(_))
        ));
        for report in [
            "TEMPLATESENDJOBFINISH",
            "MASSSENDJOBFINISH",
            "kf_create_session",
        ] {
            let p = push(&format!(
                "<xml>{HEAD}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{report}]]></Event><MsgID>1</MsgID></xml>"
            ));
            assert!(matches!(p, Push::Report { .. }), "{report}");
        }
    }

    #[test]
    fn refuses_pushes_without_what_they_need() {
        let bad = |xml: &str| read_push(&parse(xml).unwrap(), 1).unwrap_err();
        assert_eq!(bad("<xml><MsgType>text</MsgType></xml>").code(), "invalid");
        assert_eq!(
            bad(&format!(
                "<xml>{HEAD}<MsgType>text</MsgType><Content>x</Content></xml>"
            ))
            .code(),
            "invalid",
        );
        assert_eq!(bad(&format!("<xml>{HEAD}<MsgType>location</MsgType><Location_X>north</Location_X><MsgId>1</MsgId></xml>")).code(), "invalid");
        let huge = format!(
            "<xml>{HEAD}<MsgType>text</MsgType><Content>{}</Content><MsgId>1</MsgId></xml>",
            "x".repeat(100_000)
        );
        assert_eq!(bad(&huge).code(), "too_large");
    }

    #[test]
    fn a_written_push_reads_back_as_the_same_inbound() {
        for xml in [
            format!(
                "<xml>{HEAD}<MsgType>text</MsgType><Content>hi ]]> there</Content><MsgId>77</MsgId></xml>"
            ),
            format!(
                "<xml>{HEAD}<MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_9</EventKey></xml>"
            ),
            format!(
                "<xml>{HEAD}<MsgType>event</MsgType><Event>CLICK</Event><EventKey>K</EventKey></xml>"
            ),
        ] {
            let a = inbound(&xml);
            let b = inbound(&write_push("gh_1", &a));
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        assert_eq!(numeric_msg_id("123"), 123);
        assert_eq!(numeric_msg_id("m-abc"), numeric_msg_id("m-abc"));
        assert!(numeric_msg_id("m-abc") < i64::MAX as u64);
    }

    #[test]
    fn every_reply_type_writes_and_reads_back() {
        let contents = vec![
            MessageContent::Text {
                content: "你好 <&>".into(),
            },
            MessageContent::Image {
                media_id: "m".into(),
                url: None,
            },
            MessageContent::Voice {
                media_id: "v".into(),
                url: None,
            },
            MessageContent::Video {
                media_id: "d".into(),
                url: None,
            },
            MessageContent::Music {
                title: "T".into(),
                description: "D".into(),
                music_url: "http://m".into(),
                hq_music_url: Some("http://hq".into()),
                thumb_media_id: Some("th".into()),
            },
            MessageContent::News {
                articles: vec![Article {
                    title: "a".into(),
                    description: "b".into(),
                    url: "http://c".into(),
                    picture_url: Some("http://p".into()),
                }],
            },
            MessageContent::TransferCustomerService,
        ];
        for c in contents {
            let xml = write_reply(&c, "oUSER", "gh_1", 9, 8).unwrap();
            let doc = parse(&xml).unwrap();
            assert_eq!(doc.text_of("ToUserName"), Some("oUSER"));
            assert_eq!(doc.text_of("FromUserName"), Some("gh_1"));
            assert_eq!(read_reply(&doc).unwrap(), Some(c));
        }
        let link = MessageContent::ArticleLink {
            title: "t".into(),
            description: String::new(),
            url: "http://x".into(),
        };
        let doc = parse(&write_reply(&link, "o", "gh", 1, 1).unwrap()).unwrap();
        assert_eq!(doc.text_of("MsgType"), Some("news"));
        let many = MessageContent::News {
            articles: (0..5)
                .map(|i| Article {
                    title: i.to_string(),
                    description: String::new(),
                    url: "http://x".into(),
                    picture_url: None,
                })
                .collect(),
        };
        let doc =
            parse(&write_reply(&many, "o", "gh", 1, MAX_NEWS_REPLY_TO_MESSAGE).unwrap()).unwrap();
        assert_eq!(doc.text_of("ArticleCount"), Some("1"));
        let card = MessageContent::MiniProgram {
            appid: "wx1".into(),
            page_path: "p".into(),
            title: "t".into(),
            thumb_media_id: "m".into(),
        };
        assert_eq!(write_reply(&card, "o", "gh", 1, 1), None);
    }

    #[test]
    fn lenient_replies_as_real_sdks_write_them_are_read() {
        // WeRoBot: whitespace around; node wechat: ms CreateTime; wechatpy: MsgType first.
        let doc = parse("\n <xml><MsgType><![CDATA[text]]></MsgType><Content>plain</Content><CreateTime>1700000000000</CreateTime><ToUserName>o</ToUserName><FromUserName>gh</FromUserName></xml>\n").unwrap();
        assert_eq!(
            read_reply(&doc).unwrap(),
            Some(MessageContent::Text {
                content: "plain".into()
            })
        );
        assert!(read_reply(&parse("<xml><MsgType>dance</MsgType></xml>").unwrap()).is_err());
        assert!(read_reply(&parse("<xml><MsgType>news</MsgType></xml>").unwrap()).is_err());
    }
}
