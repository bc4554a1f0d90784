//! Benchmark anchor: plain axum answering the same inbound JSON with the same keyword reply,
//! with no wasm, no storage and no durability. `bench/http-load.sh` runs it beside `plaza serve`
//! so both numbers come from the same machine and the same run.

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

async fn inbound(Json(body): Json<Value>) -> Json<Value> {
    let text = body["content"].as_str().unwrap_or_default();
    let reply = if text.trim().eq_ignore_ascii_case("hello") || text.contains("hello") {
        json!({ "msg_type": "text", "content": "Hello from Plaza! This reply came from the auto-reply plugin." })
    } else {
        json!({ "msg_type": "text", "content": "Thanks for your message. Send hello or help." })
    };
    Json(json!({ "reply": reply }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18190".into());
    let app = Router::new()
        .route("/api/v1/accounts/{account}/inbound", post(inbound))
        // The WeChat push anchor (bench/wechat-push.sh): read the body, answer `success`.
        .route(
            "/wechat/{account}",
            post(|body: String| async move { if body.is_empty() { "" } else { "success" } }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("anchor listening on http://{addr}");
    axum::serve(listener, app).await
}
