//! Broadcasts (群发): durable, resumable, exactly once per follower, within the platform's quotas.

use plaza_tests::*;
use serde_json::{Value, json};

/// Subscribes `n` followers `f00000…` concurrently.
fn subscribe_many(server: &Server, account: &str, n: usize) {
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in (t..n).step_by(8) {
                    let a = server.event(account, &format!("f{i:05}"), "subscribe");
                    assert_eq!(a.status, 200, "{a:?}");
                }
            });
        }
    });
}

fn broadcast(server: &Server, account: &str, key: &str, audience: Value, text: &str) -> Answer {
    server.post(
        &format!("/api/v1/accounts/{account}/broadcasts"),
        &json!({ "idempotency_key": key, "audience": audience, "content": { "msg_type": "text", "content": text } }),
    )
}

fn status(server: &Server, account: &str, id: &str) -> Value {
    server
        .get(&format!("/api/v1/accounts/{account}/broadcasts/{id}"))
        .body
}

fn wait_done(server: &Server, account: &str, id: &str) -> Value {
    eventually(&format!("broadcast {id} to finish"), || {
        Some(status(server, account, id)).filter(|job| job["status"] == "done")
    })
}

fn broadcasts_received(server: &Server, account: &str, openid: &str) -> Vec<Value> {
    server
        .outbox(account, openid)
        .into_iter()
        .filter(|m| m["delivery"] == "broadcast")
        .collect()
}

#[test]
fn a_broadcast_killed_midway_resumes_and_reaches_everyone_exactly_once() {
    let (_tmp, dir) = data_dir();
    // One recipient per second: the worker delivers its first batch of 1000, then must wait
    // 1000 s before the next, so the kill below lands after exactly one batch however fast or
    // slow this machine is.
    let mut server = Server::start_with(&dir, false, &[("PLAZA_BROADCAST_RATE", "1")]);
    server.create_account("big", "service", true);
    let n = 2500;
    subscribe_many(&server, "big", n);

    let created = broadcast(&server, "big", "launch-1", json!("all"), "We are live!");
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_str().expect("id").to_string();
    assert_eq!(created.body["total"], n);

    // Kill -9 once the first batch is out and the rest is still pending.
    let job = eventually("the first batch to be delivered", || {
        Some(status(&server, "big", &id)).filter(|job| job["delivered"].as_u64() > Some(0))
    });
    assert_eq!(
        job["delivered"], 1000,
        "one batch before the rate cap: {job}"
    );
    assert_eq!(job["status"], "running", "{job}");
    server.kill9();

    // Resumed without the rate cap.
    let server = Server::start(&dir, false);
    let job = wait_done(&server, "big", &id);
    assert_eq!(job["delivered"], n, "{job}");
    assert_eq!(job["percent"], 100.0);

    // Every follower has it exactly once.
    let missing_or_double = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..8 {
            let (server, bad) = (&server, &missing_or_double);
            s.spawn(move || {
                for i in (t..n).step_by(8) {
                    let openid = format!("f{i:05}");
                    let got = broadcasts_received(server, "big", &openid);
                    if got.len() != 1 || got[0]["content"] != "We are live!" {
                        bad.lock().unwrap().push((openid, got.len()));
                    }
                }
            });
        }
    });
    let bad = missing_or_double.into_inner().unwrap();
    assert!(
        bad.is_empty(),
        "{} followers without exactly one copy, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );

    // Retrying the same request is a no-op that returns the same broadcast.
    let retry = broadcast(&server, "big", "launch-1", json!("all"), "We are live!");
    assert_eq!(retry.status, 200, "{retry:?}");
    assert_eq!(retry.body["id"], id.as_str());
    assert_eq!(broadcasts_received(&server, "big", "f00000").len(), 1);
}

#[test]
fn a_subscription_account_broadcasts_once_per_day() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("daily", "subscription", false);
    subscribe_many(&server, "daily", 20);
    let first = broadcast(&server, "daily", "morning", json!("all"), "Good morning");
    assert_eq!(first.status, 201, "{first:?}");
    let second = broadcast(&server, "daily", "evening", json!("all"), "Good evening");
    assert_eq!(
        (second.status, second.error_code()),
        (429, "quota_exceeded"),
        "{second:?}"
    );
    let resets_at = second.body["error"]["resets_at"]
        .as_u64()
        .expect("resets_at");
    let created_at = first.body["created_at"].as_u64().unwrap_or(0);
    assert!(
        resets_at > created_at && resets_at <= created_at + 24 * 3600 * 1000,
        "{second:?}"
    );
    let job = wait_done(&server, "daily", first.body["id"].as_str().unwrap_or(""));
    assert_eq!(job["delivered"], 20);
    assert_eq!(broadcasts_received(&server, "daily", "f00003").len(), 1);
}

#[test]
fn a_service_account_reaches_each_follower_four_times_a_month() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("svc", "service", true);
    subscribe_many(&server, "svc", 3);
    for i in 0..4 {
        let a = broadcast(
            &server,
            "svc",
            &format!("k{i}"),
            json!({ "openids": ["f00000", "f00001"] }),
            &format!("news {i}"),
        );
        assert_eq!(a.status, 201, "{a:?}");
        wait_done(&server, "svc", a.body["id"].as_str().unwrap_or(""));
    }
    // f00000 and f00001 are used up this month: a fifth to them alone is refused…
    let fifth = broadcast(
        &server,
        "svc",
        "k4",
        json!({ "openids": ["f00000", "f00001"] }),
        "news 4",
    );
    assert_eq!(
        (fifth.status, fifth.error_code()),
        (429, "quota_exceeded"),
        "{fifth:?}"
    );
    assert!(fifth.body["error"]["resets_at"].as_u64().is_some());
    // …and to everyone it reaches only f00002.
    let all = broadcast(&server, "svc", "k5", json!("all"), "news 5");
    assert_eq!(all.status, 201, "{all:?}");
    let job = wait_done(&server, "svc", all.body["id"].as_str().unwrap_or(""));
    assert_eq!(
        (job["delivered"].as_u64(), job["skipped_quota"].as_u64()),
        (Some(1), Some(2)),
        "{job}"
    );
    let id = all.body["id"].as_str().unwrap_or("");
    let recipients = server
        .get(&format!("/api/v1/accounts/svc/broadcasts/{id}/recipients"))
        .body;
    assert_eq!(
        recipients["recipients"],
        json!([
            { "openid": "f00000", "status": "skipped_quota" },
            { "openid": "f00001", "status": "skipped_quota" },
            { "openid": "f00002", "status": "delivered" }
        ]),
        "{recipients}"
    );
    let skipped = server
        .get(&format!(
            "/api/v1/accounts/svc/broadcasts/{id}/recipients?status=skipped_quota&limit=1"
        ))
        .body;
    assert_eq!(skipped["recipients"].as_array().map(|a| a.len()), Some(1));
    assert_eq!(skipped["next_cursor"], "f00000");
    assert_eq!(broadcasts_received(&server, "svc", "f00000").len(), 4);
    assert_eq!(broadcasts_received(&server, "svc", "f00002").len(), 1);
}

#[test]
fn a_scheduled_broadcast_waits_for_its_time_and_bad_requests_are_refused() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("s", "service", true);
    subscribe_many(&server, "s", 5);
    let now = server.get("/api/v1/accounts/s").body["created_at"]
        .as_u64()
        .unwrap_or(0);
    // Far enough ahead that no run of this test reaches it; the firing itself is covered with an
    // injected clock in `host/tests/broadcast_clock.rs`.
    let at = now + 365 * 24 * 3600 * 1000;
    let later = server.post(
        "/api/v1/accounts/s/broadcasts",
        &json!({ "idempotency_key": "later", "audience": "all", "at": at, "content": { "msg_type": "text", "content": "later" } }),
    );
    assert_eq!(later.status, 201, "{later:?}");
    assert_eq!(later.body["status"], "scheduled");
    assert_eq!(later.body["at"], at);
    let later_id = later.body["id"].as_str().unwrap_or("").to_string();
    // An immediate broadcast created after it: once the worker has finished that one, it has
    // passed over the scheduled one too, and left it waiting.
    let now_one = broadcast(&server, "s", "now", json!("all"), "now");
    assert_eq!(now_one.status, 201, "{now_one:?}");
    let job = wait_done(&server, "s", now_one.body["id"].as_str().unwrap_or(""));
    assert_eq!(job["delivered"], 5);
    let waiting = status(&server, "s", &later_id);
    assert_eq!(
        (&waiting["status"], &waiting["delivered"]),
        (&json!("scheduled"), &json!(0)),
        "{waiting}"
    );
    let got: Vec<Value> = broadcasts_received(&server, "s", "f00001")
        .into_iter()
        .map(|m| m["content"].clone())
        .collect();
    assert_eq!(got, [json!("now")]);

    for bad in [
        json!({ "idempotency_key": "", "audience": "all", "content": { "msg_type": "text", "content": "x" } }),
        json!({ "idempotency_key": "k", "audience": "everyone", "content": { "msg_type": "text", "content": "x" } }),
        json!({ "idempotency_key": "k", "audience": { "openids": [] }, "content": { "msg_type": "text", "content": "x" } }),
        json!({ "idempotency_key": "k", "audience": "all", "content": { "msg_type": "transfer_customer_service" } }),
    ] {
        let r = server.post("/api/v1/accounts/s/broadcasts", &bad);
        assert_eq!(r.status, 400, "{bad}: {r:?}");
    }
    assert_eq!(
        server.get("/api/v1/accounts/s/broadcasts").body["broadcasts"]
            .as_array()
            .map(|a| a.len()),
        Some(2),
        "the refused requests created nothing"
    );
}

#[test]
fn the_review_chain_blocks_or_masks_every_kind_of_outbound_message() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("m", "service", true);
    subscribe_many(&server, "m", 3);
    let up = server.upload(
        &probe_manifest("moderator", &["review.outbound"], 32, 500),
        &probe_wasm(),
    );
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install(
        "m",
        json!({ "plugin": "moderator", "grants": ["review.outbound"], "priority": -10,
                "config": { "block_words": ["forbidden"], "mask_words": ["darn"] } }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    let auto = server.install(
        "m",
        json!({ "plugin": "auto-reply", "config": { "rules": [
        { "keyword": "bad", "reply": "that is forbidden" },
        { "keyword": "mild", "reply": "well darn" } ] } }),
    );
    assert_eq!(auto.status, 201, "{auto:?}");

    // A broadcast containing a blocked word is refused whole, and the queue says why.
    let blocked = broadcast(&server, "m", "b1", json!("all"), "a forbidden offer");
    assert_eq!(
        (blocked.status, blocked.error_code()),
        (403, "permission_denied"),
        "{blocked:?}"
    );
    assert!(
        blocked.error_message().contains("contains forbidden"),
        "{blocked:?}"
    );
    assert!(broadcasts_received(&server, "m", "f00000").is_empty());

    // Replies are reviewed too: blocked → no reply; masked → rewritten.
    let reply = server.text("m", "f00001", "1", "bad");
    assert_eq!(reply.body["reply"], Value::Null, "{reply:?}");
    assert_eq!(
        server.text("m", "f00001", "2", "mild").reply_text(),
        Some("well ***")
    );

    // A clean broadcast goes through, masked where needed.
    let ok = broadcast(&server, "m", "b2", json!("all"), "darn good news");
    assert_eq!(ok.status, 201, "{ok:?}");
    wait_done(&server, "m", ok.body["id"].as_str().unwrap_or(""));
    assert_eq!(
        broadcasts_received(&server, "m", "f00002")[0]["content"],
        "*** good news"
    );

    let queue = server.get("/api/v1/accounts/m/reviews").body;
    let blocked = queue["blocked"].as_array().cloned().unwrap_or_default();
    assert_eq!(blocked.len(), 2, "{queue}");
    assert_eq!(blocked[0]["delivery"], "broadcast");
    assert_eq!(blocked[0]["reviewer"], "moderator");
    assert_eq!(blocked[0]["reason"], "contains forbidden");
    assert_eq!(blocked[1]["delivery"], "reply");
    assert_eq!(blocked[1]["target"], "f00001");
}

#[test]
fn tag_and_segment_audiences_reach_exactly_their_followers() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("t", "service", true);
    subscribe_many(&server, "t", 10);
    assert_eq!(
        server
            .post("/api/v1/accounts/t/tags", &json!({ "name": "vip" }))
            .status,
        201
    );
    let tagged = server.post(
        "/api/v1/accounts/t/tags/vip/tag",
        &json!({ "openids": ["f00001", "f00003", "f00005"] }),
    );
    assert!(tagged.status < 300, "{tagged:?}");
    let unknown_tag = broadcast(&server, "t", "k0", json!({ "tag": "nobody" }), "x");
    assert_eq!(unknown_tag.status, 404, "{unknown_tag:?}");
    let bad_segment = broadcast(
        &server,
        "t",
        "k0",
        json!({ "segment": "tag:vip and (" }),
        "x",
    );
    assert_eq!(bad_segment.status, 400, "{bad_segment:?}");

    let vip = broadcast(&server, "t", "k1", json!({ "tag": "vip" }), "for vips");
    assert_eq!(vip.status, 201, "{vip:?}");
    assert_eq!(
        wait_done(&server, "t", vip.body["id"].as_str().unwrap_or(""))["delivered"],
        3
    );
    let rest = broadcast(
        &server,
        "t",
        "k2",
        json!({ "segment": "not tag:vip" }),
        "for the rest",
    );
    assert_eq!(rest.status, 201, "{rest:?}");
    assert_eq!(
        wait_done(&server, "t", rest.body["id"].as_str().unwrap_or(""))["delivered"],
        7
    );
    assert_eq!(
        broadcasts_received(&server, "t", "f00003")[0]["content"],
        "for vips"
    );
    assert_eq!(
        broadcasts_received(&server, "t", "f00004")[0]["content"],
        "for the rest"
    );
    assert_eq!(broadcasts_received(&server, "t", "f00004").len(), 1);
    // Broadcast deliveries are in the event log like every other delivery.
    let log = server
        .get("/api/v1/accounts/t/events?kind=delivery&limit=100")
        .body;
    let broadcast_entries = log["events"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["delivery"] == "broadcast").count())
        .unwrap_or(0);
    assert_eq!(broadcast_entries, 10, "{log}");
}

#[test]
fn a_broadcast_refused_for_its_audience_succeeds_when_retried_with_the_same_key() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("r", "service", true);
    subscribe_many(&server, "r", 3);
    let listed = |server: &Server| {
        server.get("/api/v1/accounts/r/broadcasts").body["broadcasts"]
            .as_array()
            .map(|a| a.len())
    };

    // The tag does not exist yet: refused, and the key is not spent.
    let vip = json!({ "tag": "vip" });
    let refused = broadcast(&server, "r", "to-vips", vip.clone(), "for vips");
    assert_eq!(
        (refused.status, refused.error_code()),
        (404, "not_found"),
        "{refused:?}"
    );
    assert_eq!(listed(&server), Some(0), "a refusal creates nothing");
    let created = server.post("/api/v1/accounts/r/tags", &json!({ "name": "vip" }));
    assert_eq!(created.status, 201, "{created:?}");
    let tagged = server.post(
        "/api/v1/accounts/r/tags/vip/tag",
        &json!({ "openids": ["f00000", "f00002"] }),
    );
    assert!(tagged.status < 300, "{tagged:?}");
    let retried = broadcast(&server, "r", "to-vips", vip.clone(), "for vips");
    assert_eq!(retried.status, 201, "{retried:?}");
    let id = retried.body["id"].as_str().unwrap_or("").to_string();
    assert_eq!(wait_done(&server, "r", &id)["delivered"], 2);
    assert_eq!(broadcasts_received(&server, "r", "f00000").len(), 1);
    assert!(broadcasts_received(&server, "r", "f00001").is_empty());
    // From now on the key names that broadcast.
    let again = broadcast(&server, "r", "to-vips", vip, "for vips");
    assert_eq!(
        (again.status, again.body["id"].as_str()),
        (200, Some(id.as_str()))
    );

    // Every recipient it names has had this month's broadcasts (f00009 does not follow yet):
    // refused until someone with a broadcast left is among them.
    let pair = json!({ "openids": ["f00001", "f00009"] });
    for i in 0..4 {
        let a = broadcast(
            &server,
            "r",
            &format!("m{i}"),
            json!({ "openids": ["f00001"] }),
            "m",
        );
        assert_eq!(a.status, 201, "{a:?}");
        wait_done(&server, "r", a.body["id"].as_str().unwrap_or(""));
    }
    let used_up = broadcast(&server, "r", "pair", pair.clone(), "to the pair");
    assert_eq!(
        (used_up.status, used_up.error_code()),
        (429, "quota_exceeded"),
        "{used_up:?}"
    );
    assert_eq!(listed(&server), Some(5), "a refusal creates nothing");
    assert_eq!(server.event("r", "f00009", "subscribe").status, 200);
    let retried = broadcast(&server, "r", "pair", pair, "to the pair");
    assert_eq!(retried.status, 201, "{retried:?}");
    let job = wait_done(&server, "r", retried.body["id"].as_str().unwrap_or(""));
    assert_eq!(
        (job["delivered"].as_u64(), job["skipped_quota"].as_u64()),
        (Some(1), Some(1)),
        "{job}"
    );
    assert_eq!(broadcasts_received(&server, "r", "f00009").len(), 1);
    assert_eq!(broadcasts_received(&server, "r", "f00001").len(), 4);
}
