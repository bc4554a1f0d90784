//! Every function the world `plaza:platform@0.2.0` `plugin` imports is either gated by one
//! capability or declared ungated, and a gated one refuses a call without its grant and changes
//! nothing. (0.1 plugins reach the same host functions through the 0.1 boundary, which delegates
//! to these.) Outbound HTTP (`wasi:http`, gated by `http.outbound:<host>`) has its own tests.
//!
//! The list of functions comes from the WIT itself (`wit/since_v0.2.0`), so an import added to the
//! world without an entry in [`IMPORTS`] fails this test; the entry names the probe command that
//! calls the function and the capability it needs. Each command runs in the real probe component,
//! in process, through `Platform::call_plugin`:
//! - with no grants, and with every capability except the one needed (and those that imply it),
//!   a gated call answers `permission_denied` naming its capability, and every table of the store
//!   is byte-for-byte what it was before the call;
//! - with only its capability granted, the same call succeeds, so the table cannot name a
//!   capability other than the one the host checks;
//! - the ungated functions answer with no grants at all.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use plaza_host::Platform;
use plaza_host::accounts::followers::Touch;
use plaza_host::platform::ManualClock;
use plaza_host::plugin_api as api;
use plaza_host::plugins::grants::{Capability, InstallationGrant};
use plaza_host::plugins::{ActiveInstallation, InstallRequest, InstallationUpdate};
use plaza_host::runtime::{Invocation, Outcome};
use plaza_host::scheduling::{Job, JobKind};
use plaza_host::storage::{KvNamespace, StoredEntry};
use plaza_host::templates::NewTemplate;

/// 2026-03-10T00:00:00Z.
const NOW: u64 = 1_773_100_800_000;
const HOUR: u64 = 3_600_000;
const ACCOUNT: &str = "acme";
const PLUGIN: &str = "probe";
/// The follower every command comes from.
const FAN: &str = "fan";
/// The WIT package whose world is enumerated.
const PACKAGE: &str = "plaza:platform";
/// A 1×1 PNG (69 bytes), for `media.put`.
const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7356d8d0000000049454e44ae426082";

/// What calling an imported function needs.
#[derive(Debug, Clone, Copy)]
enum Gate {
    /// Available to every installation: it reads only what the call already has.
    Ungated,
    /// Refused unless this capability is granted.
    Requires(&'static str),
}

/// One imported function of the world and the probe command that calls it.
struct Import {
    /// `interface.function`, as the WIT names them.
    function: &'static str,
    /// The probe text command; `{job}` is replaced by the id of a job the installation holds,
    /// `{png}` by [`PNG`] and `{media}` by its media id.
    command: &'static str,
    /// How the probe's reply starts when the call is let through (run in table order on the
    /// state [`world`] sets up).
    answer: &'static str,
    gate: Gate,
}

use Gate::{Requires, Ungated};

/// Every import of the world. A function missing here fails
/// `every_import_of_the_world_is_in_the_table`; a new import needs a grant check, a probe command
/// and an entry.
const IMPORTS: &[Import] = &[
    Import {
        function: "accounts.current",
        command: "account",
        answer: "account:acme/service/Asia/Shanghai",
        gate: Ungated,
    },
    Import {
        function: "followers.get",
        command: "follower",
        answer: "follower:fan tags=vip attributes=",
        gate: Requires("followers.read"),
    },
    Import {
        function: "followers.list",
        command: "segment all",
        answer: "count:2",
        gate: Requires("followers.read"),
    },
    Import {
        function: "followers.tag",
        command: "tag gold",
        answer: "tagged",
        gate: Requires("followers.write"),
    },
    Import {
        function: "followers.untag",
        command: "untag vip",
        answer: "untagged",
        gate: Requires("followers.write"),
    },
    Import {
        function: "followers.set-attribute",
        command: "attr city Paris",
        answer: "ok",
        gate: Requires("followers.write"),
    },
    Import {
        function: "followers.remove-attribute",
        command: "rmattr old",
        answer: "removed:true",
        gate: Requires("followers.write"),
    },
    Import {
        function: "followers.update-profile",
        command: "profile nickname Ann",
        answer: "profile:Ann/",
        gate: Requires("followers.write"),
    },
    Import {
        function: "tags.list",
        command: "tags",
        answer: "tags:gold=",
        gate: Requires("tags.manage"),
    },
    Import {
        function: "tags.create",
        command: "mktag silver",
        answer: "tag:silver",
        gate: Requires("tags.manage"),
    },
    Import {
        function: "storage.batch",
        command: "batch absent:batched atleast:seeded=1 | set:batched=yes incr:batch-hits=5",
        answer: "batch:applied",
        gate: Requires("storage"),
    },
    Import {
        function: "events.query",
        command: "events - 10",
        answer: "events:",
        gate: Requires("events.read"),
    },
    Import {
        function: "events.daily",
        command: "daily 2026-03-10 2026-03-10 -",
        answer: "daily:",
        gate: Requires("events.read"),
    },
    Import {
        function: "events.emit",
        command: "emit probe.checked step=1",
        answer: "emitted:",
        gate: Requires("events.emit"),
    },
    Import {
        function: "media.put",
        command: "mediaput image/png {png}",
        answer: "media:",
        gate: Requires("media"),
    },
    Import {
        function: "media.get",
        command: "mediaget {media}",
        answer: "media:image/png:69",
        gate: Requires("media"),
    },
    Import {
        function: "media.delete",
        command: "mediadel {media}",
        answer: "deleted:true",
        gate: Requires("media"),
    },
    Import {
        function: "links.follower-url",
        command: "link /whoami 60",
        answer: "link:http",
        gate: Requires("http.routes"),
    },
    Import {
        function: "plugins.query",
        command: "query probe2 echo hi",
        answer: "answer:hi",
        gate: Requires("query:probe2"),
    },
    Import {
        function: "followers.count",
        command: "count purchases 1",
        answer: "counted:1",
        gate: Requires("followers.write"),
    },
    Import {
        function: "storage.get",
        command: "get seeded",
        answer: "1",
        gate: Requires("storage"),
    },
    Import {
        function: "storage.set",
        command: "set fresh value",
        answer: "ok",
        gate: Requires("storage"),
    },
    Import {
        function: "storage.delete",
        command: "del doomed",
        answer: "true",
        gate: Requires("storage"),
    },
    Import {
        function: "storage.list-prefix",
        command: "keys s",
        answer: "keys:seeded",
        gate: Requires("storage"),
    },
    Import {
        function: "storage.compare-and-swap",
        command: "cas seeded 1 2",
        answer: "swapped:true",
        gate: Requires("storage"),
    },
    Import {
        function: "storage.increment",
        command: "incr hits 1",
        answer: "1",
        gate: Requires("storage"),
    },
    Import {
        function: "messaging.send",
        command: "send hello",
        answer: "sent:",
        gate: Requires("messaging.send"),
    },
    Import {
        function: "messaging.send-template",
        command: "template welcome name=Ann",
        answer: "sent:",
        gate: Requires("messaging.template"),
    },
    Import {
        function: "messaging.broadcast",
        command: "broadcast launch hello all",
        answer: "broadcast:",
        gate: Requires("messaging.broadcast"),
    },
    Import {
        function: "messaging.publish",
        command: "publish probe.news hello",
        answer: "published:",
        gate: Requires("topics.publish:probe.news"),
    },
    Import {
        function: "scheduling.at",
        command: "schedule 60000",
        answer: "job:",
        gate: Requires("scheduling"),
    },
    Import {
        function: "scheduling.every",
        command: "every */15 * * * *",
        answer: "job:",
        gate: Requires("scheduling"),
    },
    Import {
        function: "scheduling.cancel",
        command: "cancel {job}",
        answer: "cancelled:true",
        gate: Requires("scheduling"),
    },
    Import {
        function: "scheduling.list",
        command: "jobs",
        answer: "jobs:",
        gate: Requires("scheduling"),
    },
    Import {
        function: "config.get",
        command: "config",
        answer: "{}",
        gate: Ungated,
    },
    Import {
        function: "log.log",
        command: "log hello",
        answer: "logged",
        gate: Ungated,
    },
];

fn entry(function: &str) -> Option<&'static Import> {
    IMPORTS.iter().find(|i| i.function == function)
}

/// `interface.function` for every function a world imports from [`PACKAGE`].
fn imported_functions(resolve: &wit_parser::Resolve, world: wit_parser::WorldId) -> Vec<String> {
    let mut out = Vec::new();
    for item in resolve.worlds[world].imports.values() {
        match item {
            wit_parser::WorldItem::Interface { id, .. } => {
                let iface = &resolve.interfaces[*id];
                let in_package = iface
                    .package
                    .is_some_and(|p| resolve.packages[p].name.to_string().starts_with(PACKAGE));
                let Some(name) = iface.name.as_deref().filter(|_| in_package) else {
                    continue;
                };
                out.extend(iface.functions.keys().map(|f| format!("{name}.{f}")));
            }
            wit_parser::WorldItem::Function(f) => out.push(f.name.clone()),
            wit_parser::WorldItem::Type { .. } => {}
        }
    }
    out
}

fn world_functions() -> Vec<String> {
    let dir = std::path::Path::new(plaza_host::bundled::WORKSPACE_DIR).join("wit/since_v0.2.0");
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(&dir).expect("the WIT parses");
    let world = resolve
        .select_world(&[package], Some("plugin"))
        .expect("world plugin");
    imported_functions(&resolve, world)
}

#[test]
fn every_import_of_the_world_is_in_the_table_and_the_probe_calls_it() {
    let world = world_functions();
    assert!(world.len() >= IMPORTS.len(), "the WIT was read: {world:?}");
    let missing: Vec<&String> = world.iter().filter(|f| entry(f).is_none()).collect();
    assert!(
        missing.is_empty(),
        "imported functions with no entry (capability + probe command) in IMPORTS: {missing:?}"
    );
    let stale: Vec<&str> = IMPORTS
        .iter()
        .map(|i| i.function)
        .filter(|f| !world.iter().any(|w| w == f))
        .collect();
    assert!(
        stale.is_empty(),
        "IMPORTS names functions the world lacks: {stale:?}"
    );
    let unique: BTreeSet<&str> = IMPORTS.iter().map(|i| i.function).collect();
    assert_eq!(unique.len(), IMPORTS.len(), "an entry is listed twice");

    // The probe component imports every one of them (a component imports only what it calls),
    // so each entry's command can reach its function.
    let decoded = wit_parser::decoding::decode(&common::probe_wasm()).expect("the probe decodes");
    let wit_parser::decoding::DecodedWasm::Component(resolve, world_id) = decoded else {
        panic!("the probe is a component");
    };
    let imported: BTreeSet<String> = imported_functions(&resolve, world_id).into_iter().collect();
    let uncalled: Vec<&String> = world.iter().filter(|f| !imported.contains(*f)).collect();
    assert!(
        uncalled.is_empty(),
        "the probe has no command calling {uncalled:?}; add one"
    );
}

/// The probe under test: a manifest requesting every capability the table names.
fn manifest() -> String {
    let caps: BTreeSet<&str> = IMPORTS
        .iter()
        .filter_map(|i| match i.gate {
            Requires(cap) => Some(cap),
            Ungated => None,
        })
        .collect();
    let caps: Vec<String> = caps.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "name = \"{PLUGIN}\"\nversion = \"0.1.0\"\napi = \"^0.2\"\ncapabilities = [{}]\n",
        caps.join(", ")
    )
}

fn all_capabilities() -> Vec<Capability> {
    let caps: BTreeSet<Capability> = IMPORTS
        .iter()
        .filter_map(|i| match i.gate {
            Requires(cap) => Some(cap.parse().expect("a capability")),
            Ungated => None,
        })
        .collect();
    caps.into_iter().collect()
}

/// Every capability except `cap` and those that imply it (`followers.write` implies
/// `followers.read`).
fn all_but(cap: &Capability) -> Vec<Capability> {
    all_capabilities()
        .into_iter()
        .filter(|c| !InstallationGrant([c.clone()].into()).allows(cap))
        .collect()
}

struct World {
    _dir: tempfile::TempDir,
    platform: Arc<Platform>,
    /// A job the installation holds, for `cancel`.
    job: String,
}

/// A verified service account with two subscribed followers (`fan` interacted just now and is
/// tagged `vip`; tag `gold` exists too), a template, a stored key and a job: something for every
/// command to read or change if it were let through.
async fn world() -> World {
    let (dir, p) = common::platform(Arc::new(ManualClock::new(NOW)), |_| {});
    common::register_probe(&p, &manifest(), NOW).await;
    common::service_account(&p, ACCOUNT, Some("Asia/Shanghai"), NOW).await;
    for openid in [FAN, "other"] {
        p.followers
            .touch(ACCOUNT, openid, Touch::Subscribe { scene: None }, NOW)
            .expect("subscribe")
            .durable()
            .await
            .expect("subscribe");
    }
    p.followers
        .touch(
            ACCOUNT,
            FAN,
            Touch::Interaction {
                counter: "messages",
            },
            NOW,
        )
        .expect("interaction")
        .durable()
        .await
        .expect("interaction");
    for tag in ["vip", "gold"] {
        p.followers
            .create_tag(ACCOUNT, tag, NOW)
            .expect("tag")
            .durable()
            .await
            .expect("tag");
    }
    p.followers
        .tag_many(ACCOUNT, &[FAN.to_string()], "vip")
        .expect("tagged")
        .durable()
        .await
        .expect("tagged");
    let template = NewTemplate {
        id: Some("welcome".into()),
        title: "Welcome".into(),
        content: "Hello {{name.DATA}}".into(),
        active: true,
    };
    p.templates
        .create(ACCOUNT, template, NOW)
        .expect("template")
        .durable()
        .await
        .expect("template");
    p.followers
        .set_attribute(ACCOUNT, FAN, "old", "1")
        .expect("attribute")
        .durable()
        .await
        .expect("attribute");
    p.install_plugin(
        ACCOUNT,
        InstallRequest {
            plugin: PLUGIN.into(),
            ..Default::default()
        },
    )
    .await
    .expect("install with no grants");
    // The plugin `plugins.query` asks.
    common::register_probe(
        &p,
        &common::probe_manifest(&[]).replace("\"probe\"", "\"probe2\""),
        NOW,
    )
    .await;
    p.install_plugin(
        ACCOUNT,
        InstallRequest {
            plugin: "probe2".into(),
            ..Default::default()
        },
    )
    .await
    .expect("install probe2");
    let ns = KvNamespace {
        account: ACCOUNT.into(),
        plugin: PLUGIN.into(),
    };
    for (key, value) in [("seeded", b"1"), ("doomed", b"x")] {
        p.kv.set(&ns, key, value)
            .expect("kv")
            .durable()
            .await
            .expect("kv");
    }
    let job = Job {
        id: p.ids.next("j"),
        account: ACCOUNT.into(),
        plugin: PLUGIN.into(),
        kind: JobKind::At { at: NOW + HOUR },
        next_run: Some(NOW + HOUR),
        scheduled_for: NOW + HOUR,
        payload: b"seeded".to_vec(),
        attempt: 0,
        created_at: NOW,
    };
    p.jobs.add(&job).expect("job").durable().await.expect("job");
    World {
        _dir: dir,
        platform: p,
        job: job.id,
    }
}

impl World {
    async fn grant(&self, grants: Vec<Capability>) -> Arc<ActiveInstallation> {
        self.platform
            .update_installation(
                ACCOUNT,
                PLUGIN,
                InstallationUpdate {
                    grants: Some(grants.clone()),
                    ..Default::default()
                },
            )
            .await
            .expect("grant");
        let active = self
            .platform
            .plugins
            .find_active(ACCOUNT, PLUGIN)
            .expect("installed and enabled");
        assert_eq!(
            active.installation.grants,
            InstallationGrant(grants.into_iter().collect())
        );
        active
    }

    /// Runs `import`'s command as a text message from `fan` and returns the probe's reply.
    async fn call(&self, active: &Arc<ActiveInstallation>, import: &Import) -> String {
        let text = import
            .command
            .replace("{job}", &self.job)
            .replace("{png}", PNG)
            .replace("{media}", &plaza_host::runtime::sha256_hex(&unhex(PNG)));
        let msg = api::InboundMessage {
            msg_id: "m1".into(),
            from: FAN.into(),
            at: NOW,
            body: api::InboundBody::Text(text.clone()),
        };
        let outcome = self
            .platform
            .call_plugin(active, Some(FAN.into()), false, |ctx| {
                Invocation::Message(ctx, msg)
            })
            .await
            .unwrap_or_else(|e| panic!("{}: the call failed: {e}", import.function));
        match outcome {
            Outcome::Reply(Some(api::Content::Text { content: reply })) => reply,
            other => panic!("{} ({text}): no text reply: {other:?}", import.function),
        }
    }

    fn snapshot(&self) -> Vec<StoredEntry> {
        self.platform.store.snapshot().expect("snapshot")
    }

    /// The call is refused for want of `cap` and leaves every table as it was.
    async fn assert_refused(&self, active: &Arc<ActiveInstallation>, import: &Import, cap: &str) {
        let before = self.snapshot();
        let reply = self.call(active, import).await;
        let granted = &active.installation.grants;
        assert!(
            reply.starts_with("error:permission_denied:") && reply.contains(cap),
            "{} with grants {granted:?}: expected permission_denied naming {cap}, got {reply:?}",
            import.function
        );
        let after = self.snapshot();
        assert!(
            before == after,
            "{} refused but changed storage: {:?}",
            import.function,
            changed(&before, &after)
        );
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The entries that differ between two snapshots, readable.
fn changed(before: &[StoredEntry], after: &[StoredEntry]) -> Vec<String> {
    let show = |(t, k, v): &StoredEntry| {
        format!(
            "{t}:{}={}",
            String::from_utf8_lossy(k),
            String::from_utf8_lossy(v)
        )
    };
    let b: BTreeSet<String> = before.iter().map(show).collect();
    let a: BTreeSet<String> = after.iter().map(show).collect();
    b.symmetric_difference(&a).cloned().collect()
}

#[tokio::test]
async fn each_gated_import_is_refused_without_its_grant_changes_nothing_and_passes_with_it() {
    let w = world().await;

    // No grants at all: every gated function is refused; the ungated ones answer.
    let none = w.grant(Vec::new()).await;
    assert_eq!(none.config_json, "{}", "what `config.get` answers");
    for import in IMPORTS {
        match import.gate {
            Requires(cap) => w.assert_refused(&none, import, cap).await,
            Ungated => {
                let reply = w.call(&none, import).await;
                assert!(
                    reply.starts_with(import.answer),
                    "{} is ungated but answered {reply:?}",
                    import.function
                );
            }
        }
    }

    for import in IMPORTS {
        let Requires(cap) = import.gate else {
            continue;
        };
        let needed: Capability = cap.parse().expect("a capability");
        // Every other capability does not open it…
        let others = w.grant(all_but(&needed)).await;
        w.assert_refused(&others, import, cap).await;
        // …and its own does: the call gets past the grant check and does its work.
        let own = w.grant(vec![needed]).await;
        let reply = w.call(&own, import).await;
        assert!(
            reply.starts_with(import.answer),
            "{} granted {cap} answered {reply:?}, expected {:?}…",
            import.function,
            import.answer
        );
    }

    // What the granted calls did, to show they were the real thing.
    let p = &w.platform;
    let fan = p.followers.get(ACCOUNT, FAN).expect("fan");
    assert_eq!(fan.tags, ["gold"], "{fan:?}");
    assert_eq!(
        fan.attributes.get("city").map(String::as_str),
        Some("Paris")
    );
    let ns = KvNamespace {
        account: ACCOUNT.into(),
        plugin: PLUGIN.into(),
    };
    let value = |key: &str| p.kv.get(&ns, key).expect("kv");
    assert_eq!(value("fresh"), Some(b"value".to_vec()));
    assert_eq!(value("seeded"), Some(b"2".to_vec()));
    assert_eq!(value("doomed"), None, "deleted");
    assert!(p.jobs.get(ACCOUNT, PLUGIN, &w.job).expect("job").is_none());
    assert_eq!(
        p.jobs.list(ACCOUNT, PLUGIN).expect("jobs").len(),
        2,
        "the `at` and the `every` job"
    );
    assert_eq!(p.broadcasts.list(ACCOUNT, 10).expect("broadcasts").len(), 1);
    assert_eq!(fan.nickname, "Ann");
    assert!(!fan.attributes.contains_key("old"), "{fan:?}");
    assert_eq!(value("batched"), Some(b"yes".to_vec()));
    assert_eq!(value("hits"), Some(b"1".to_vec()));
    assert_eq!(value("batch-hits"), Some(b"5".to_vec()));
    let tags: Vec<String> = p
        .followers
        .list_tags(ACCOUNT)
        .expect("tags")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(tags, ["gold", "silver", "vip"]);
    let emitted = p
        .events
        .list(ACCOUNT, &Default::default(), None, 100)
        .expect("events")
        .events;
    assert!(
        emitted.iter().any(|e| e.plugin.as_deref() == Some(PLUGIN)),
        "the emitted event is in the log: {emitted:?}"
    );
}
