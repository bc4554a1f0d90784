//! The [`Plugin`] trait and the shim that connects it to the generated `handler` exports.

use core::marker::PhantomData;

use crate::__private::exports::plaza::platform::handler::Guest;
use crate::{
    CallContext, Content, Error, Event, HttpRequest, HttpResponse, InboundMessage, ReviewVerdict,
};

/// A Plaza feature plugin.
///
/// Implement only the hooks you need; every method has a default that does nothing harmful. The
/// host creates a fresh WebAssembly instance for each call and [`register!`](crate::register)
/// builds the plugin with [`Default::default`] each time, so keep `default()` cheap and do not
/// rely on state surviving between calls — use [`storage`](crate::storage) for that.
///
/// `ctx` says whom the call serves (account, follower, whether an operator made an HTTP request);
/// the same information is available on every hook so that a plugin can log or branch on it.
pub trait Plugin: Default + 'static {
    /// Called once when an operator installs the plugin on an account. An error aborts the
    /// installation. Default: nothing.
    fn on_install(&self, _ctx: &CallContext) -> Result<(), Error> {
        Ok(())
    }

    /// Called when the plugin is removed from an account. Default: nothing.
    fn on_uninstall(&self, _ctx: &CallContext) -> Result<(), Error> {
        Ok(())
    }

    /// A follower sent the account a message. Returning `Some(content)` answers it (the first
    /// plugin by priority that answers wins); `None` lets the next plugin try. Default: `None`.
    fn on_message(
        &self,
        _ctx: &CallContext,
        _msg: InboundMessage,
    ) -> Result<Option<Content>, Error> {
        Ok(None)
    }

    /// A follower event, a timer this plugin scheduled, or a topic message it subscribed to.
    /// A returned content is sent to the event's follower, when there is one. Default: `None`.
    fn on_event(&self, _ctx: &CallContext, _ev: Event) -> Result<Option<Content>, Error> {
        Ok(None)
    }

    /// An HTTP request to `/p/{account}/{plugin}/...`; `req.path` is relative to the plugin.
    /// Check `ctx.operator` before changing anything. Default: `404 Not Found`.
    fn on_http(&self, _ctx: &CallContext, _req: HttpRequest) -> Result<HttpResponse, Error> {
        Ok(HttpResponse::not_found())
    }

    /// Review content the account is about to send. `ctx.follower` is the recipient of a
    /// one-to-one message (passive reply, customer-service or template message) and `None` for a
    /// broadcast. Default: allow everything.
    fn review_outbound(
        &self,
        _ctx: &CallContext,
        _content: Content,
    ) -> Result<ReviewVerdict, Error> {
        Ok(ReviewVerdict::Allow)
    }

    /// A question from another plugin of the account (`ctx.caller` names it), asked through
    /// [`plugins::query`](crate::plugins::query) — e.g. the shop asking membership for
    /// `"member.discount"`. Answer bytes (JSON by convention, see
    /// [`plugins::answer_json`](crate::plugins::answer_json)). Default: `not-found` for every
    /// name.
    fn on_query(
        &self,
        _ctx: &CallContext,
        name: &str,
        _payload: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        Err(Error::not_found(format!(
            "this plugin answers no query {name:?}"
        )))
    }
}

/// Implements the generated `Guest` trait for any [`Plugin`]; [`register!`](crate::register)
/// names it through a type alias because the generated export macro wants an identifier.
#[doc(hidden)]
pub struct Shim<P>(PhantomData<P>);

impl<P: Plugin> Guest for Shim<P> {
    fn on_install(ctx: CallContext) -> Result<(), Error> {
        P::default().on_install(&ctx)
    }

    fn on_uninstall(ctx: CallContext) -> Result<(), Error> {
        P::default().on_uninstall(&ctx)
    }

    fn on_message(ctx: CallContext, msg: InboundMessage) -> Result<Option<Content>, Error> {
        P::default().on_message(&ctx, msg)
    }

    fn on_event(ctx: CallContext, ev: Event) -> Result<Option<Content>, Error> {
        P::default().on_event(&ctx, ev)
    }

    fn on_http(ctx: CallContext, req: HttpRequest) -> Result<HttpResponse, Error> {
        P::default().on_http(&ctx, req)
    }

    fn review_outbound(ctx: CallContext, content: Content) -> Result<ReviewVerdict, Error> {
        P::default().review_outbound(&ctx, content)
    }

    fn on_query(ctx: CallContext, name: String, payload: Vec<u8>) -> Result<Vec<u8>, Error> {
        P::default().on_query(&ctx, &name, payload)
    }
}
