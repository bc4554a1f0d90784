//! The OpenAPI document at `/api/openapi.json` describes every admin route, and the server's real
//! answers conform to it: schemathesis (from PyPI) generates requests for every operation —
//! valid and invalid bodies, odd path and query values, unsupported methods — and checks that no
//! answer is a server error, that every status and content type is documented, that error bodies
//! have the documented shape, and that invalid input is refused.

use std::process::Command;

use plaza_tests::*;
use serde_json::json;

#[test]
fn the_document_covers_every_route_and_real_answers_conform_to_it() {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, true);

    // Public (it holds no data) and complete.
    let doc = server.get_as("/api/openapi.json", None);
    assert_eq!(doc.status, 200, "{doc:?}");
    assert_eq!(doc.body["openapi"], "3.0.3");
    let paths = doc.body["paths"].as_object().expect("paths");
    for template in plaza_host::api::route_paths() {
        assert!(
            paths.contains_key(&format!("/api/v1{template}")),
            "{template} is not documented"
        );
    }

    // Data for the generated requests to reach past "not found": the demo account, a follower
    // and an installed plugin.
    let a = server.post(
        "/api/v1/accounts/demo/inbound",
        &json!({ "msg_id": "st-1", "from": "o-st", "msg_type": "text", "content": "hi" }),
    );
    assert_eq!(a.status, 200, "{a:?}");
    let config = tmp.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        "[parameters]\n\"path.account\" = \"demo\"\n\"path.plugin\" = \"auto-reply\"\n\"path.openid\" = \"o-st\"\n",
    )
    .expect("write schemathesis.toml");

    let python = python::python();
    let st = python.with_file_name("schemathesis");
    let out = Command::new(&st)
        .current_dir(tmp.path())
        .arg("--config-file")
        .arg(&config)
        .args(["--no-color", "run"])
        .arg(server.url("/api/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,unsupported_method",
            // The follower stream never ends by design.
            "--exclude-path-regex",
            "stream$",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "10",
            "--workers",
            "1",
            // A fixed seed: the same requests every run.
            "--seed",
            "20261128",
        ])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("passed"), "{stdout}");
}
