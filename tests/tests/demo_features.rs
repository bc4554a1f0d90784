//! The demo account of `plaza serve --demo` carries every first-party feature plugin, and they
//! work together there: an editor article whose short codes are rendered, per view, by the
//! plugins that own them — a vote by interactive, a product card by shop, an in-article ad (with
//! its impression pixel and tracked click) and the end-of-article ad by ad-slots, a mini-program
//! card by the editor itself — and a paid shop order that membership turns into points.

mod common;

use common::{ADMIN, Full, request};
use plaza_tests::*;
use serde_json::{Value, json};

const ACCOUNT: &str = "demo";

fn call(server: &Server, method: &str, plugin: &str, path: &str, body: &Value) -> Full {
    request(
        server,
        method,
        &format!("/p/{ACCOUNT}/{plugin}{path}"),
        &[ADMIN, ("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
}

fn created(a: Full, what: &str) -> Value {
    assert!(matches!(a.status, 200 | 201), "{what}: {a:?}");
    a.body
}

#[test]
fn the_demo_account_has_every_feature_plugin_and_an_article_renders_theirs() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, true);

    let installed = server.get(&format!("/api/v1/accounts/{ACCOUNT}/installations"));
    assert_eq!(installed.status, 200, "{installed:?}");
    let mut names: Vec<String> = installed.body["installations"]
        .as_array()
        .expect("installations")
        .iter()
        .map(|i| i["plugin"].as_str().unwrap_or("?").to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ad-slots",
            "analytics",
            "auto-reply",
            "competitor-analysis",
            "editor",
            "interactive",
            "membership",
            "moderation",
            "shop"
        ]
    );

    // What the article will show: a vote, a product, two ad slots and an ad.
    created(
        call(
            &server,
            "POST",
            "interactive",
            "/admin/votes",
            &json!({ "id": "tea-poll", "title": "最爱哪款茶?", "options": ["龙井", "碧螺春"] }),
        ),
        "vote",
    );
    created(
        call(
            &server,
            "PUT",
            "shop",
            "/api/products/longjing",
            &json!({ "title": "明前龙井 250g", "description": "西湖产区",
                     "skus": [ { "id": "250g", "attributes": { "规格": "250g" },
                                 "price_cents": 9800, "stock": 20 } ] }),
        ),
        "product",
    );
    for (id, position) in [("mid", "in_article"), ("end", "end_of_article")] {
        created(
            call(
                &server,
                "POST",
                "ad-slots",
                "/slots",
                &json!({ "id": id, "position": position, "style": "card", "size": "16:9" }),
            ),
            "slot",
        );
    }
    created(
        call(
            &server,
            "POST",
            "ad-slots",
            "/ads",
            &json!({ "id": "teaware", "billing": "cpm", "price_cents": 1000, "budget_cents": 100000,
                     "creative": { "title": "紫砂壶 Teaware", "landing_url": "https://teaware.example/" } }),
        ),
        "ad",
    );

    let article = created(
        call(
            &server,
            "POST",
            "editor",
            "/api/articles",
            &json!({ "title": "春茶上新", "author": "Plaza 茶舍",
                     "body": "<p>今年的明前茶到了。</p>[vote id=tea-poll]<p>尝一尝:</p>[product id=longjing]\
                              [ad slot=mid][miniprogram appid=wx0123456789abcdef path=\"pages/product/index?id=longjing\" title=\"小程序下单\"]" }),
        ),
        "article",
    );
    let id = article["id"].as_str().expect("article id").to_string();
    created(
        call(
            &server,
            "POST",
            "editor",
            &format!("/api/articles/{id}/publish"),
            &json!({}),
        ),
        "publish",
    );

    let page = request(
        &server,
        "GET",
        &format!("/p/{ACCOUNT}/editor/a/{id}"),
        &[],
        b"",
    );
    assert_eq!(page.status, 200, "{page:?}");
    let html = page.text();
    for (what, needle) in [
        ("the vote, by interactive", "最爱哪款茶?"),
        ("the product card, by shop", "明前龙井 250g"),
        ("the product's link", "/p/demo/shop/products/longjing"),
        ("the ad, by ad-slots", "紫砂壶 Teaware"),
        ("the ad's impression pixel", "/p/demo/ad-slots/i/"),
        ("the ad's tracked click", "/p/demo/ad-slots/c/"),
        ("the mini-program card", "小程序下单"),
    ] {
        assert!(
            html.contains(needle),
            "{what}: {needle:?} missing from\n{html}"
        );
    }
    // The in-article slot and the end-of-article slot each served the one ad.
    assert_eq!(
        html.matches("/p/demo/ad-slots/i/").count(),
        2,
        "one ad per slot:\n{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
}
