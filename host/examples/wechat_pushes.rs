//! Writes secure-mode WeChat pushes for `bench/wechat-push.sh`, one per line:
//! `query-string TAB body`. Every push is a text "hello" with its own MsgId (so each takes the
//! full path: decrypt, de-duplication record, plugin call, encrypted reply), from 1000 followers.
//! Usage: wechat_pushes COUNT TOKEN ENCODING_AES_KEY APPID TO_USER

use plaza_host::wechat::crypto::SecureKey;
use plaza_host::wechat::envelope::{Mode, seal_push};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, count, token, key, appid, to] = args.as_slice() else {
        eprintln!("usage: wechat_pushes COUNT TOKEN ENCODING_AES_KEY APPID TO_USER");
        std::process::exit(2);
    };
    let count: u64 = count.parse().unwrap_or(20_000);
    let key = match SecureKey::new(key, appid) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for i in 0..count {
        let from = format!("o-bench-{}", i % 1000);
        let xml = format!(
            "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>{base}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>{}</MsgId></xml>",
            base * 1_000_000 + i
        );
        let nonce = (100_000 + i).to_string();
        let sealed = seal_push(
            &xml,
            to,
            &from,
            Mode::Secure,
            token,
            Some(&key),
            &base.to_string(),
            &nonce,
        );
        let query: Vec<String> = sealed
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("{}\t{}", query.join("&"), sealed.body);
    }
}
