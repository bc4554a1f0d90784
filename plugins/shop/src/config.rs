//! The installation config (`plugin.toml` has the schema and defaults). The bridge reads its own
//! `bridges` section; unknown keys are ignored here so that section can live next to these.

use serde::Deserialize;

/// Shop settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Minutes an unpaid order holds its stock before it is cancelled.
    #[serde(default = "default_expire")]
    pub order_expire_minutes: u32,
    /// Days after shipping when an order not confirmed by the buyer completes by itself.
    #[serde(default = "default_auto_complete")]
    pub auto_complete_days: u32,
    /// Template messages to the buyer; absent = not sent (logged).
    #[serde(default)]
    pub templates: Templates,
    /// WeChat Pay merchant identity the notifications must carry.
    #[serde(default)]
    pub pay: PayConfig,
    /// Mini-program that shows products (card messages, the product page's card).
    #[serde(default)]
    pub miniprogram_appid: Option<String>,
    /// Page path in it; `{id}` is replaced by the product id.
    #[serde(default = "default_mp_path")]
    pub miniprogram_path: String,
    /// Validity of the signed links the shop sends followers, in hours.
    #[serde(default = "default_link_hours")]
    pub link_hours: u32,
}

/// Template ids for order notifications.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Templates {
    #[serde(default)]
    pub paid: Option<String>,
    #[serde(default)]
    pub shipped: Option<String>,
}

/// The merchant account payments go to.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PayConfig {
    #[serde(default)]
    pub appid: String,
    #[serde(default)]
    pub mch_id: String,
}

fn default_expire() -> u32 {
    30
}
fn default_auto_complete() -> u32 {
    10
}
fn default_mp_path() -> String {
    "pages/product/index?id={id}".into()
}
fn default_link_hours() -> u32 {
    72
}

impl Default for Config {
    fn default() -> Self {
        crate::config::Config {
            order_expire_minutes: default_expire(),
            auto_complete_days: default_auto_complete(),
            templates: Templates::default(),
            pay: PayConfig::default(),
            miniprogram_appid: None,
            miniprogram_path: default_mp_path(),
            link_hours: default_link_hours(),
        }
    }
}

impl Config {
    /// The installation's config.
    pub fn load() -> plaza_sdk::Result<Config> {
        plaza_sdk::config::parse()
    }

    /// The mini-program page path for product `id`.
    pub fn miniprogram_page(&self, id: &str) -> String {
        self.miniprogram_path.replace("{id}", id)
    }
}
