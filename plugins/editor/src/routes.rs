//! The HTTP routes (operator JSON API and follower pages), the `component` queries to other
//! plugins and the publishing flow. Every route names its access in the table of [`handle`].

use std::sync::Arc;

use plaza_sdk::messaging::{self, Audience};
use plaza_sdk::prelude::*;
use plaza_sdk::router::{Access, Request, Router};
use plaza_sdk::{
    Article as NewsArticle, events, http, links, log, media, plugins, scheduling, time,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::article::{self, Article, Edit, Status, check_id};
use crate::config::Config;
use crate::pages::{self, ArticleView};
use crate::preview;
use crate::sanitize::{self, Patterns, Policy, Rehost};
use crate::shortcode::{self, Components};
use crate::store;

/// Media types an upload may have: images, audio and video only.
pub const UPLOAD_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/ogg",
    "audio/wav",
    "video/mp4",
    "video/webm",
    "video/quicktime",
];

/// Image types an import re-hosts.
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Per-call context: configuration and the account.
pub struct Env<'a> {
    pub config: Config,
    pub ctx: &'a CallContext,
}

impl Env<'_> {
    fn account(&self) -> &str {
        &self.ctx.account.id
    }

    /// The account's timezone: pages show local dates, and a read counts once per local day.
    fn timezone(&self) -> time::Tz {
        time::timezone(&self.ctx.account.timezone)
    }

    fn media_prefix(&self) -> String {
        format!("/media/{}/", self.account())
    }

    fn policy(&self) -> Policy {
        Policy {
            video_hosts: self.config.video_hosts.clone(),
            media_prefix: self.media_prefix(),
        }
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The openid a public URL is derived for; never a real follower's.
const PUBLIC_OPENID: &str = "editor-public-url";

/// The absolute URL of one of this plugin's pages, without a follower token: the host offers no
/// "base URL" call, so this asks for a one-second follower link and drops its token.
pub fn public_url(path: &str) -> Result<String> {
    Ok(strip_token(&links::follower_url(PUBLIC_OPENID, path, 1)?))
}

fn strip_token(url: &str) -> String {
    let Some(at) = url
        .find("?plaza_token=")
        .or_else(|| url.find("&plaza_token="))
    else {
        return url.to_string();
    };
    let after = &url[at + 1..];
    match after.find(['&', '#']) {
        None => url[..at].to_string(),
        Some(end) => {
            let tail = &after[end..];
            if url[at..].starts_with('?') && tail.starts_with('&') {
                format!("{}?{}", &url[..at], &tail[1..])
            } else {
                format!("{}{}", &url[..at], tail)
            }
        }
    }
}

/// `https://host` of this server (from a public URL of this plugin).
fn origin() -> Result<String> {
    let url = public_url("/")?;
    Ok(url
        .find("/p/")
        .map_or(url.clone(), |at| url[..at].to_string()))
}

/// How long the follower links inside pages stay valid.
const PAGE_LINK_TTL: u32 = 7 * 24 * 3600;

/// Entries the history and featured pages show (newest first).
const LIST_PAGE_ENTRIES: usize = 100;

/// An absolute URL to one of this plugin's pages (`path` starts with `/`): signed for the
/// follower when the request came through their link, so that what they do next stays theirs.
fn page_link(r: &Request<'_>, base: &str, path: &str) -> Result<String> {
    match r.ctx.follower.as_deref() {
        Some(openid) => links::follower_url(openid, path, PAGE_LINK_TTL),
        None => Ok(format!("{base}{path}")),
    }
}

/// `https://host/p/{account}/editor`.
fn plugin_base(env: &Env<'_>) -> Result<String> {
    Ok(format!("{}/p/{}/editor", origin()?, env.account()))
}

pub fn handle(ctx: &CallContext, req: &HttpRequest) -> Result<HttpResponse> {
    let env = Env {
        config: plaza_sdk::config::parse()?,
        ctx,
    };
    let env = &env;
    Router::new()
        .post("/api/articles", Access::Operator, |r| create_route(env, r))
        .get("/api/articles", Access::Operator, |_| list_route())
        .get("/api/articles/{id}", Access::Operator, |r| {
            Ok(HttpResponse::json(200, &store::load(r.param("id"))?))
        })
        .put("/api/articles/{id}", Access::Operator, |r| {
            update_route(env, r)
        })
        .delete("/api/articles/{id}", Access::Operator, |r| {
            store::delete(r.param("id"))?;
            Ok(HttpResponse::json(200, &json!({"deleted": r.param("id")})))
        })
        .get("/api/articles/{id}/versions", Access::Operator, |r| {
            let versions: Vec<Value> = store::versions(r.param("id"))?
                .into_iter()
                .map(|(v, at, title)| json!({"version": v, "saved_at": at, "title": title}))
                .collect();
            Ok(HttpResponse::json(200, &json!({"versions": versions})))
        })
        .get("/api/articles/{id}/versions/{v}", Access::Operator, |r| {
            Ok(HttpResponse::json(
                200,
                &store::version(r.param("id"), r.param_as("v")?)?,
            ))
        })
        .post(
            "/api/articles/{id}/versions/{v}/restore",
            Access::Operator,
            |r| restore_route(env, r),
        )
        .post("/api/articles/{id}/preview", Access::Operator, |r| {
            preview_link_route(env, r)
        })
        .post("/api/articles/{id}/publish", Access::Operator, |r| {
            publish_route(env, r)
        })
        .post("/api/articles/{id}/feature", Access::Operator, |r| {
            feature_route(r)
        })
        .post("/api/media", Access::Operator, |r| upload_route(env, r))
        .post("/api/import", Access::Operator, |r| import_route(env, r))
        .get("/preview/{id}", Access::Public, |r| preview_page(env, r))
        .get("/a/{id}", Access::Public, |r| article_route(env, r))
        .post("/a/{id}/share", Access::Public, share_route)
        .post("/a/{id}/like", Access::Public, like_route)
        .get("/history", Access::Public, |r| {
            list_route_page(env, r, false)
        })
        .get("/featured", Access::Public, |r| {
            list_route_page(env, r, true)
        })
        .handle(ctx, req)
}

// ---- drafts -------------------------------------------------------------------------------

/// A create request: the editable fields plus an optional id.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    id: Option<String>,
    title: String,
    #[serde(default)]
    cover: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

/// A body as stored: sanitised, images re-hosted where granted.
fn clean_body(env: &Env<'_>, html: &str) -> (String, sanitize::Report) {
    let rehost = HostRehost {
        max_bytes: env.config.max_image_bytes,
    };
    let out = sanitize::sanitize(html, &env.policy(), &Patterns::default(), Arc::new(rehost));
    (out.html, out.report)
}

/// Creates a draft from `create`; returns it.
fn create_article(env: &Env<'_>, create: Create, body_is_clean: Option<String>) -> Result<Article> {
    let id = match create.id {
        Some(id) => {
            check_id("article id", &id)?;
            id
        }
        None => store::next_id()?,
    };
    let now = now_ms();
    let base = Article {
        id,
        created_at: now,
        updated_at: now,
        version: 0,
        ..Article::default()
    };
    let body = match body_is_clean {
        Some(clean) => Some(clean),
        None => create.body.as_deref().map(|b| clean_body(env, b).0),
    };
    let draft = article::apply(
        &base,
        Edit {
            title: Some(create.title),
            cover: create.cover.map(Some),
            digest: create.digest,
            author: create.author,
            body,
            base_version: None,
        },
        now,
    )?;
    store::create(&draft)?;
    Ok(draft)
}

fn create_route(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    let create: Create = r.json()?;
    Ok(HttpResponse::json(201, &create_article(env, create, None)?))
}

fn list_route() -> Result<HttpResponse> {
    let items: Vec<Value> = store::all()?
        .into_iter()
        .map(|a| {
            json!({"id": a.id, "title": a.title, "status": a.status, "version": a.version,
                   "updated_at": a.updated_at, "published_at": a.published_at,
                   "scheduled_for": a.scheduled_for, "featured": a.featured})
        })
        .collect();
    Ok(HttpResponse::json(200, &json!({"articles": items})))
}

fn update_route(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    let mut edit: Edit = r.json()?;
    let before = store::load(r.param("id"))?;
    if let Some(body) = edit.body.take() {
        edit.body = Some(clean_body(env, &body).0);
    }
    let after = article::apply(&before, edit, now_ms())?;
    store::replace(&before, &after, env.config.max_versions)?;
    refresh_history(&after)?;
    Ok(HttpResponse::json(200, &after))
}

fn restore_route(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    let before = store::load(r.param("id"))?;
    let old = store::version(&before.id, r.param_as("v")?)?;
    let after = article::apply(
        &before,
        Edit {
            title: Some(old.title),
            cover: Some(old.cover),
            digest: Some(old.digest),
            author: Some(old.author),
            body: Some(old.body),
            base_version: None,
        },
        now_ms(),
    )?;
    store::replace(&before, &after, env.config.max_versions)?;
    refresh_history(&after)?;
    Ok(HttpResponse::json(200, &after))
}

/// A published article's history entry follows its title, digest and cover.
fn refresh_history(a: &Article) -> Result<()> {
    if a.status == Status::Published {
        store::history_put(a)?;
    }
    Ok(())
}

fn feature_route(r: &Request<'_>) -> Result<HttpResponse> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Feature {
        featured: bool,
    }
    let want: Feature = r.json()?;
    let before = store::load(r.param("id"))?;
    if before.status != Status::Published {
        return Err(Error::invalid(format!(
            "article {:?} is not published; only published articles can be featured",
            before.id
        )));
    }
    let after = Article {
        featured: want.featured,
        ..before.clone()
    };
    store::replace(&before, &after, u32::MAX)?;
    store::history_put(&after)?;
    Ok(HttpResponse::json(200, &after))
}

// ---- media and import ---------------------------------------------------------------------

fn upload_route(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    let content_type = r
        .http
        .header("content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !UPLOAD_TYPES.contains(&content_type.as_str()) {
        return Err(Error::invalid(format!(
            "content-type {content_type:?} is not an image, audio or video type this editor takes ({})",
            UPLOAD_TYPES.join(", ")
        )));
    }
    let size = r.http.body.len() as u64;
    if size == 0 {
        return Err(Error::invalid("the upload is empty"));
    }
    if size > env.config.max_upload_bytes {
        return Err(Error::too_large(format!(
            "the upload is {size} bytes; at most {} (max_upload_bytes)",
            env.config.max_upload_bytes
        )));
    }
    let stored = media::put(&r.http.body, &content_type)?;
    let block = match content_type.split('/').next() {
        Some("image") => "image",
        Some("audio") => "audio",
        _ => "video",
    };
    Ok(HttpResponse::json(
        201,
        &json!({"media_id": stored.media_id, "url": stored.url, "content_type": stored.content_type,
                "size": stored.size, "short_code": format!("[{block} media={}]", stored.media_id)}),
    ))
}

/// `/media/{account}/{id}` of a media URL (absolute on this host): bodies keep the path, so
/// they render on whatever name the server is reached by.
fn media_path(url: &str) -> String {
    url.find("/media/")
        .map_or(url.to_string(), |at| url[at..].to_string())
}

/// Re-hosts images into the media store: `data:` images are decoded, remote ones fetched
/// through the host (which refuses hosts without an `http.outbound` grant).
struct HostRehost {
    max_bytes: u64,
}

impl Rehost for HostRehost {
    fn image(&self, src: &str) -> std::result::Result<String, String> {
        let short: String = src.chars().take(80).collect();
        let (bytes, content_type) = if let Some(data) = src.strip_prefix("data:") {
            let (meta, payload) = data.split_once(',').ok_or("malformed data: URL")?;
            let content_type = meta
                .strip_suffix(";base64")
                .ok_or("data: image not base64")?;
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(payload.trim())
                .map_err(|e| format!("data: image: {e}"))?;
            (bytes, content_type.to_ascii_lowercase())
        } else {
            let response = http::get(src).map_err(|e| format!("{short}: {}", e.message()))?;
            if !response.is_success() {
                return Err(format!("{short}: HTTP {}", response.status));
            }
            let content_type = response
                .header("content-type")
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            (response.body, content_type)
        };
        if !IMAGE_TYPES.contains(&content_type.as_str()) {
            return Err(format!("{short}: {content_type:?} is not an image type"));
        }
        if bytes.len() as u64 > self.max_bytes {
            return Err(format!(
                "{short}: {} bytes, more than max_image_bytes",
                bytes.len()
            ));
        }
        media::put(&bytes, &content_type)
            .map(|stored| media_path(&stored.url))
            .map_err(|e| format!("{short}: {}", e.message()))
    }
}

fn import_route(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Import {
        html: Option<String>,
        url: Option<String>,
        title: Option<String>,
        author: Option<String>,
        digest: Option<String>,
    }
    let import: Import = r.json()?;
    let max = env.config.max_import_bytes;
    let html = match (import.html, import.url.as_deref()) {
        (Some(html), None) => html,
        (None, Some(url)) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Error::invalid(format!("url {url:?} must be http(s)")));
            }
            let response = http::get(url).map_err(|e| match e {
                Error::PermissionDenied(why) => Error::permission_denied(format!(
                    "cannot fetch {url}: {why}. Grant the editor http.outbound for that host to import from it"
                )),
                other => other,
            })?;
            if !response.is_success() {
                return Err(Error::unavailable(format!(
                    "{url} answered HTTP {}",
                    response.status
                )));
            }
            String::from_utf8_lossy(&response.body).into_owned()
        }
        _ => return Err(Error::invalid("send either \"html\" or \"url\", not both")),
    };
    if html.len() as u64 > max {
        return Err(Error::too_large(format!(
            "the HTML is {} bytes; at most {max} (max_import_bytes)",
            html.len()
        )));
    }
    let (clean, report) = clean_body(env, &html);
    let title = import
        .title
        .or_else(|| first_heading(&clean))
        .unwrap_or_else(|| "导入的文章 Imported article".to_string());
    let title: String = title.chars().take(article::MAX_TITLE).collect();
    let draft = create_article(
        env,
        Create {
            id: None,
            title,
            cover: None,
            digest: import.digest,
            author: import.author,
            body: None,
        },
        Some(clean),
    )?;
    Ok(HttpResponse::json(
        201,
        &json!({"article": draft, "report": report}),
    ))
}

/// The text of the first `<h1>`–`<h3>` of sanitised HTML, tags removed.
fn first_heading(html: &str) -> Option<String> {
    let start = ["<h1", "<h2", "<h3"]
        .iter()
        .filter_map(|t| html.find(t))
        .min()?;
    let open_end = start + html[start..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</h")?;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[open_end..close].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = shortcode::unescape(text.trim());
    (!text.is_empty()).then_some(text)
}

// ---- rendering ----------------------------------------------------------------------------

/// Components asked of their plugins for one page view.
struct PluginComponents<'a> {
    openid: Option<&'a str>,
    article: &'a str,
    media_prefix: String,
    video_hosts: &'a [String],
}

impl Components for PluginComponents<'_> {
    fn component(&self, kind: &str, id: &str) -> Option<String> {
        let plugin = shortcode::plugin_for(kind)?;
        let mut question = json!({"kind": kind, "id": id, "article": self.article});
        if let Some(openid) = self.openid {
            question["openid"] = json!(openid);
        }
        match plugins::query_json::<_, Value>(plugin, "component.render", &question) {
            Ok(answer) => Some(answer["html"].as_str().unwrap_or_default().to_string()),
            Err(e) => {
                log::warn(format!(
                    "[{kind} {id}] in article {}: {plugin} did not render it ({}); left out",
                    self.article,
                    e.display()
                ));
                None
            }
        }
    }

    fn media_prefix(&self) -> &str {
        &self.media_prefix
    }

    fn video_hosts(&self) -> &[String] {
        self.video_hosts
    }
}

/// The account's end-of-article ad, if ad-slots has one for this viewer.
fn end_of_article_ad(components: &PluginComponents<'_>) -> String {
    let slots = match plugins::query_json::<_, Value>("ad-slots", "ad.slots", &json!({})) {
        Ok(answer) => answer,
        Err(e) => {
            log::debug(format!("no end-of-article ad: {}", e.display()));
            return String::new();
        }
    };
    let slot = slots["slots"].as_array().and_then(|slots| {
        slots
            .iter()
            .find(|s| s["position"] == "end_of_article")
            .and_then(|s| s["id"].as_str())
    });
    slot.and_then(|id| components.component("ad", id))
        .unwrap_or_default()
}

fn render_article(
    env: &Env<'_>,
    a: &Article,
    openid: Option<&str>,
    actions: Option<(&str, &str)>,
    preview: bool,
    history_url: &str,
) -> Result<HttpResponse> {
    let components = PluginComponents {
        openid,
        article: &a.id,
        media_prefix: env.media_prefix(),
        video_hosts: &env.config.video_hosts,
    };
    let body_html = shortcode::render_body(&a.body, &components);
    let end_ad = if preview {
        String::new()
    } else {
        end_of_article_ad(&components)
    };
    let cover = a
        .cover
        .as_ref()
        .map(|c| format!("{}{c}", env.media_prefix()));
    let likes = if preview { 0 } else { store::likes(&a.id)? };
    let html = pages::article_page(&ArticleView {
        article: a,
        timezone: env.timezone(),
        body_html: &body_html,
        cover_url: cover.as_deref(),
        end_ad: &end_ad,
        actions,
        likes,
        preview,
        history_url,
    });
    Ok(pages::page(200, html, &env.config.video_hosts))
}

fn published(id: &str) -> Result<Option<Article>> {
    match store::load(id) {
        Ok(a) if a.status == Status::Published => Ok(Some(a)),
        Ok(_) | Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn article_route(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    let id = r.param("id");
    let Some(a) = published(id)? else {
        return Ok(pages::message_page(
            404,
            "找不到文章 Not found",
            "这篇文章不存在或尚未发布。This article does not exist or is not published yet.",
        ));
    };
    let openid = r.ctx.follower.as_deref();
    let count = match openid {
        Some(o) => store::first_read(&a.id, &time::local_day(now_ms(), env.timezone()), o)?,
        None => true,
    };
    if count {
        emit("editor.article.read", openid, &a);
    }
    let base = plugin_base(env)?;
    let like = page_link(r, &base, &format!("/a/{}/like", a.id))?;
    let share = page_link(r, &base, &format!("/a/{}/share", a.id))?;
    let history = page_link(r, &base, "/history")?;
    render_article(env, &a, openid, Some((&like, &share)), false, &history)
}

fn emit(kind: &str, openid: Option<&str>, a: &Article) {
    if let Err(e) = events::emit(kind, openid, &[("article", &a.id), ("title", &a.title)]) {
        log::warn(format!("{kind} for {} not recorded: {}", a.id, e.display()));
    }
}

fn share_route(r: &Request<'_>) -> Result<HttpResponse> {
    let a = published(r.param("id"))?
        .ok_or_else(|| Error::not_found(format!("no published article {:?}", r.param("id"))))?;
    emit("editor.article.share", r.ctx.follower.as_deref(), &a);
    Ok(HttpResponse::json(200, &json!({"shared": a.id})))
}

fn like_route(r: &Request<'_>) -> Result<HttpResponse> {
    let a = published(r.param("id"))?
        .ok_or_else(|| Error::not_found(format!("no published article {:?}", r.param("id"))))?;
    let openid = r.ctx.follower.as_deref();
    let (new, likes) = store::like(&a.id, openid)?;
    if new {
        emit("editor.article.like", openid, &a);
    }
    Ok(HttpResponse::json(
        200,
        &json!({"liked": a.id, "new": new, "likes": likes}),
    ))
}

fn list_route_page(env: &Env<'_>, r: &Request<'_>, featured_only: bool) -> Result<HttpResponse> {
    let history = store::history()?;
    let entries: Vec<&article::HistoryEntry> = history
        .iter()
        .filter(|e| !featured_only || e.featured)
        .take(LIST_PAGE_ENTRIES)
        .collect();
    let base = plugin_base(env)?;
    let prefix = env.media_prefix();
    let (title, other) = if featured_only {
        (
            "历史消息精选 Featured",
            (
                page_link(r, &base, "/history")?,
                "全部历史消息 All articles",
            ),
        )
    } else {
        (
            "历史消息 History",
            (page_link(r, &base, "/featured")?, "精选 Featured"),
        )
    };
    let mut links = std::collections::HashMap::new();
    for e in &entries {
        links.insert(e.id.clone(), page_link(r, &base, &format!("/a/{}", e.id))?);
    }
    let html = pages::list_page(
        title,
        &entries,
        env.timezone(),
        &|c| format!("{prefix}{c}"),
        &|id| links.get(id).cloned().unwrap_or_default(),
        (&other.0, other.1),
    );
    Ok(pages::page(200, html, &[]))
}

// ---- preview ------------------------------------------------------------------------------

fn preview_link_route(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Ask {
        ttl_minutes: Option<u32>,
        /// Also make a signed follower link for this follower (WeChat's 预览 to one follower).
        openid: Option<String>,
    }
    let ask: Ask = if r.http.body.is_empty() {
        Ask::default()
    } else {
        r.json()?
    };
    let a = store::load(r.param("id"))?;
    let expires_at = now_ms() + env.config.preview_ttl_ms(ask.ttl_minutes);
    let sig = preview::sign(&store::preview_key()?, env.account(), &a.id, expires_at);
    let path = format!("/preview/{}?exp={expires_at}&sig={sig}", a.id);
    let mut answer = json!({"url": public_url(&path)?, "expires_at": expires_at});
    if let Some(openid) = ask.openid {
        let ttl = (env.config.preview_ttl_ms(ask.ttl_minutes) / 1000) as u32;
        answer["follower_url"] = json!(links::follower_url(&openid, &path, ttl)?);
    }
    Ok(HttpResponse::json(201, &answer))
}

fn preview_page(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    let id = r.param("id");
    let key = store::preview_key()?;
    let checked = preview::verify(
        &key,
        env.account(),
        id,
        r.query("exp").as_deref(),
        r.query("sig").as_deref(),
        now_ms(),
    );
    if let Err(why) = checked {
        let text = match why {
            preview::Refusal::Expired => "预览链接已过期。This preview link has expired.",
            _ => "预览链接无效。This preview link is not valid.",
        };
        return Ok(pages::message_page(403, "无法预览 Cannot preview", text));
    }
    let a = store::load(id)?;
    render_article(env, &a, r.ctx.follower.as_deref(), None, true, "history")
}

// ---- publishing ---------------------------------------------------------------------------

/// Who receives a publication.
#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum AudienceSpec {
    #[default]
    All,
    Tag(String),
    Segment(String),
}

/// The payload of the timer that marks a scheduled publication published.
#[derive(serde::Serialize, Deserialize)]
pub struct PublishTimer {
    pub article: String,
    pub publication: u32,
}

fn publish_route(env: &Env<'_>, r: &Request<'_>) -> Result<HttpResponse> {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Publish {
        at: Option<u64>,
        #[serde(default)]
        audience: AudienceSpec,
    }
    let ask: Publish = if r.http.body.is_empty() {
        Publish::default()
    } else {
        r.json()?
    };
    let before = store::load(r.param("id"))?;
    if before.status == Status::Scheduled {
        return Err(Error::conflict(format!(
            "article {:?} is already scheduled for {}",
            before.id,
            before.scheduled_for.unwrap_or(0)
        )));
    }
    let now = now_ms();
    if let Some(at) = ask.at
        && at <= now
    {
        return Err(Error::invalid(format!(
            "at {at} is not in the future (now {now}); leave it out to publish now"
        )));
    }
    let audience = match ask.audience {
        AudienceSpec::All => Audience::All,
        AudienceSpec::Tag(t) => Audience::Tag(t),
        AudienceSpec::Segment(s) => Audience::Segment(s),
    };
    let publication = before.publications + 1;
    let base = origin()?;
    let news = Content::News(vec![NewsArticle {
        title: before.title.clone(),
        description: before.digest.clone(),
        url: public_url(&format!("/a/{}", before.id))?,
        picture_url: before
            .cover
            .as_ref()
            .map(|c| format!("{base}{}{c}", env.media_prefix())),
    }]);
    let key = format!("editor:{}:{publication}", before.id);
    // The host checks the audience and the account's broadcast quota here (429 quota_exceeded).
    let broadcast = messaging::broadcast(&audience, &news, ask.at, &key)?;
    let mut after = Article {
        publications: publication,
        ..before.clone()
    };
    match ask.at {
        None => {
            after.status = Status::Published;
            after.published_at = Some(now);
            after.scheduled_for = None;
        }
        Some(at) => {
            let timer = PublishTimer {
                article: before.id.clone(),
                publication,
            };
            let payload = serde_json::to_vec(&timer)
                .map_err(|e| Error::internal(format!("cannot encode the timer: {e}")))?;
            scheduling::at(at, payload)?;
            after.status = Status::Scheduled;
            after.scheduled_for = Some(at);
        }
    }
    store::replace(&before, &after, u32::MAX)?;
    if after.status == Status::Published {
        store::history_put(&after)?;
        emit("editor.article.published", None, &after);
    }
    Ok(HttpResponse::json(
        201,
        &json!({"article": after, "broadcast": broadcast, "idempotency_key": key}),
    ))
}

/// A scheduled publication's time came: the host sent the broadcast; the article joins the
/// history and `editor.article.published` is recorded.
pub fn on_publish_timer(timer: &PublishTimer, fired_at: u64) -> Result<()> {
    let before = match store::load(&timer.article) {
        Ok(a) => a,
        Err(Error::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    if before.status != Status::Scheduled || before.publications != timer.publication {
        return Ok(());
    }
    let after = Article {
        status: Status::Published,
        published_at: Some(fired_at),
        scheduled_for: None,
        ..before.clone()
    };
    store::replace(&before, &after, u32::MAX)?;
    store::history_put(&after)?;
    emit("editor.article.published", None, &after);
    Ok(())
}

/// The welcome article created (published, featured, without a broadcast) on install.
pub fn install_welcome(env: &Env<'_>) -> Result<()> {
    if !env.config.welcome_article || store::load("welcome").is_ok() {
        return Ok(());
    }
    let body = "<section style=\"box-sizing:border-box;padding:12px;background-color:#f0faf4;border-radius:8px\">\
<p style=\"color:#07c160;font-size:18px;font-weight:bold;text-align:center\">欢迎 Welcome</p>\
<p style=\"line-height:1.8\">这是编辑器插件的示例文章：从 135编辑器、秀米 导入文章，插入投票、商品卡片、小程序卡片和视频，预览并群发。</p>\
<p style=\"line-height:1.8\">This is the editor's sample article: import from 135 and Xiumi, add votes, product cards, \
mini-program cards and videos, preview and publish as a broadcast.</p></section>";
    let mut a = match create_article(
        env,
        Create {
            id: Some("welcome".into()),
            title: "欢迎使用编辑器 Welcome to the editor".into(),
            cover: None,
            digest: Some("示例文章 A sample article".into()),
            author: Some("Plaza".into()),
            body: Some(body.into()),
        },
        None,
    ) {
        Ok(a) => a,
        Err(Error::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let before = a.clone();
    a.status = Status::Published;
    a.published_at = Some(a.created_at);
    a.featured = true;
    store::replace(&before, &a, u32::MAX)?;
    store::history_put(&a)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stripped_from_urls() {
        assert_eq!(
            strip_token("https://h/p/a/editor/a/1?plaza_token=abc"),
            "https://h/p/a/editor/a/1"
        );
        assert_eq!(
            strip_token("https://h/p/a/editor/x?plaza_token=abc&y=1"),
            "https://h/p/a/editor/x?y=1"
        );
        assert_eq!(
            strip_token("https://h/p/a/editor/x?y=1"),
            "https://h/p/a/editor/x?y=1"
        );
    }

    #[test]
    fn the_first_heading_titles_an_import() {
        assert_eq!(
            first_heading("<p>x</p><h2 style=\"a\"><span>春日 &amp; 花</span></h2>").as_deref(),
            Some("春日 & 花")
        );
        assert_eq!(first_heading("<p>none</p>"), None);
    }
}
