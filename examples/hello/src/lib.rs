//! The smallest useful Plaza plugin: greets whoever writes to the account.
#![forbid(unsafe_code)]
use plaza_sdk::prelude::*;

#[derive(Default)]
struct Hello;

impl Plugin for Hello {
    fn on_message(&self, _ctx: &CallContext, msg: InboundMessage) -> Result<Option<Content>> {
        let reply = |text: &str| Content::text(format!("Hello, {}! You said: {text}", msg.from));
        Ok(msg.text().map(reply))
    }
}

plaza_sdk::register!(Hello);
