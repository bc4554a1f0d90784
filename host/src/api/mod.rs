//! The HTTP surface: admin REST API under `/api/v1`, the local channel's inbound endpoint, and
//! plugin routes under `/p/{account}/{plugin}/…`. Handlers are thin: parse, authorize, call the
//! platform, shape the answer.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod backups;
pub mod broadcasts;
pub mod cgi_bin;
pub mod developer_server;
pub mod error;
pub mod events;
pub mod followers;
pub mod ingress;
pub mod linger;
pub mod links;
pub mod media;
pub mod menus;
pub mod metrics;
pub mod openapi;
pub mod plugin_routes;
pub mod service_desk;
pub mod templates;
pub mod tokens;
pub mod topics;
pub mod wechat;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, any, delete, get, post};

use crate::platform::Platform;

/// Largest plugin upload (component + manifest).
pub const MAX_UPLOAD: usize = 64 << 20;
/// Largest JSON body on every other admin route.
pub const MAX_JSON_BODY: usize = 1 << 20;

#[derive(Clone)]
pub struct AppState {
    pub platform: Arc<Platform>,
    pub admin_token: Arc<auth::AdminToken>,
}

/// The `/api/v1` routes, recorded as they are registered: [`route_paths`] lists exactly what the
/// router serves, so the authorization-matrix test covers every route (a route added without a
/// rule in `authz::RULES` fails it).
pub struct ApiRoutes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
}

impl Default for ApiRoutes {
    fn default() -> Self {
        ApiRoutes {
            router: Router::new(),
            paths: Vec::new(),
        }
    }
}

impl ApiRoutes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, path: &'static str, method_router: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path);
        self
    }

    pub fn merge(mut self, other: ApiRoutes) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }
}

/// Every `/api/v1` route behind [`authz::authorize`] (one unit, so nothing is registered outside it).
fn admin_routes() -> ApiRoutes {
    ApiRoutes::new()
        .route("/system", get(admin::system))
        .route(
            "/accounts",
            get(admin::list_accounts).post(admin::create_account),
        )
        .route("/accounts/{account}", get(admin::get_account))
        .route(
            "/accounts/{account}/ingress-key",
            post(admin::rotate_ingress_key),
        )
        .route(
            "/accounts/{account}/api-credentials",
            post(cgi_bin::issue_credentials),
        )
        .route("/system/problems/{id}", delete(admin::remove_problem))
        .route(
            "/plugins",
            get(admin::list_plugins)
                .post(admin::upload_plugin)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD)),
        )
        .route("/plugins/{name}", get(admin::plugin_versions))
        .route(
            "/accounts/{account}/installations",
            get(admin::list_installations).post(admin::install),
        )
        .route(
            "/accounts/{account}/installations/{plugin}",
            get(admin::get_installation)
                .patch(admin::update_installation)
                .delete(admin::uninstall),
        )
        .route(
            "/accounts/{account}/installations/{plugin}/errors",
            get(admin::installation_errors),
        )
        .route("/accounts/{account}/followers", get(admin::list_followers))
        .route(
            "/accounts/{account}/followers/{openid}",
            get(admin::get_follower),
        )
        .route(
            "/accounts/{account}/followers/{openid}/messages",
            get(ingress::follower_messages),
        )
        .route(
            "/accounts/{account}/followers/{openid}/messages/stream",
            get(ingress::follower_messages_stream),
        )
        .merge(backups::routes())
        .merge(broadcasts::routes())
        .merge(developer_server::routes())
        .merge(followers::routes())
        .merge(links::routes())
        .merge(templates::routes())
        .merge(topics::routes())
        .merge(events::routes())
        .merge(media::routes())
        .merge(wechat::routes())
        .merge(menus::routes())
        .merge(service_desk::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
}

/// The `/api/v1` routes that check their own credentials (`authz::Rule::OwnCheck`).
fn own_check_routes() -> ApiRoutes {
    // The inbound endpoint: admin token or the account's ingress key.
    ApiRoutes::new().route("/accounts/{account}/inbound", post(ingress::inbound))
}

/// Every route template under `/api/v1` (relative to it), as registered.
pub fn route_paths() -> Vec<&'static str> {
    let mut paths = admin_routes().paths;
    paths.extend(own_check_routes().paths);
    paths
}

pub fn router(state: AppState) -> Router {
    let recorder = audit::Recorder {
        state: state.clone(),
        router: Arc::new(std::sync::OnceLock::new()),
    };
    let admin = admin_routes()
        .router
        // Inside the authorization: every change that was let through is recorded, with the
        // caller the authorization established.
        .route_layer(axum::middleware::from_fn_with_state(
            recorder.clone(),
            audit::record,
        ))
        // Every route above goes through the one authorization middleware (roles by route, see
        // `authz`); the routes below do their own check.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authz::authorize,
        ))
        .merge(own_check_routes().router)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        // The admin API's description: public, like the console's assets (it holds no data).
        .route("/api/openapi.json", get(openapi::document))
        .nest("/api/v1", admin)
        .route("/p/{account}/{plugin}", any(plugin_routes::handle_root))
        // `…/{plugin}/` is the plugin's root too (a page linked with a trailing slash).
        .route("/p/{account}/{plugin}/", any(plugin_routes::handle_root))
        .route("/p/{account}/{plugin}/{*rest}", any(plugin_routes::handle))
        .merge(media::public_routes())
        .merge(wechat::callback_routes())
        .merge(cgi_bin::routes())
        // The web console's page and assets are public (they hold no data); its API calls carry
        // the token the operator signs in with.
        .merge(crate::console::routes())
        .merge(metrics::routes(state.clone()))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        // A refused large body is read to its end (within bounds) so the client reads the 413.
        .layer(axum::middleware::from_fn_with_state(
            linger::Linger::default(),
            linger::drain_refused_bodies,
        ))
        // Outermost, so it counts every answer, refusals by the layers above included.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state);
    // The audit middleware reads a route's state before and after a change through the router.
    let _ = recorder.router.set(router.clone());
    router
}
