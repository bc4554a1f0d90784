//! Publishing a bridged account's custom menus to its real WeChat account.
//!
//! Plaza stores the menus (`crate::menus`); WeChat shows the ones it was last given. After an
//! operator changes a bridged account's menus, the whole set is published again: `menu/delete`
//! (which removes WeChat's default and conditional menus), then, when there is a default menu,
//! `menu/create` and one `menu/addconditional` per conditional menu, oldest first as Plaza
//! keeps them (WeChat, like Plaza, shows a follower the newest matching one). Publishing the
//! whole set, rather than the one change, makes a retry (`POST …/menu/publish`) repair any
//! earlier partial failure.
//!
//! A conditional menu's `matchrule.tag_id` is a Plaza tag number; WeChat wants its own id for
//! the tag of that name, from the map sync keeps (`sync`). A tag not yet on WeChat is created
//! there by the same reconciliation sync runs. A rule naming a tag deleted from Plaza matches
//! nobody in Plaza, so that menu is left out on WeChat, where it would match nobody either.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::settings::WechatSettings;
use crate::error::{PlazaError, Result};
use crate::menus::ConditionalMenu;
use crate::platform::Platform;

impl Platform {
    /// Publishes the account's menus to WeChat. `false` when the account is not bridged;
    /// WeChat's refusals as their mapped typed errors (the menus stay stored in Plaza).
    pub async fn publish_wechat_menu(&self, account: &str) -> Result<bool> {
        let Some(settings) = self.wechat.get(account)? else {
            return Ok(false);
        };
        // Read the menus under the lock: the last publication sends the latest menus.
        let _one_at_a_time = self.wechat_tags.publish.lock().await;
        let menus = match self.menus.get(account) {
            Ok(m) => Some(m),
            Err(PlazaError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        // Translated before WeChat's menu is deleted, so a failure here leaves WeChat's as it was.
        let conditional = match &menus {
            Some(m) => {
                self.wechat_conditional_menus(account, &settings, &m.conditionalmenu)
                    .await?
            }
            None => Vec::new(),
        };
        let client = &self.wechat_outbound.client;
        client.delete_menu(account, &settings).await?;
        if let Some(m) = &menus {
            client
                .create_menu(account, &settings, &json!({ "button": m.menu.button }))
                .await?;
            for body in &conditional {
                client
                    .add_conditional_menu(account, &settings, body)
                    .await?;
            }
        }
        tracing::info!(
            account,
            default = menus.is_some(),
            conditional = conditional.len(),
            "published the menus to WeChat"
        );
        Ok(true)
    }

    /// The `menu/addconditional` bodies of the conditional menus, with WeChat's tag ids.
    async fn wechat_conditional_menus(
        &self,
        account: &str,
        settings: &WechatSettings,
        menus: &[ConditionalMenu],
    ) -> Result<Vec<Value>> {
        let plaza_names: BTreeMap<u64, String> = self
            .followers
            .tag_id_map(account)?
            .into_iter()
            .map(|(name, id)| (id, name))
            .collect();
        let tag_name = |m: &ConditionalMenu| -> Option<Option<&String>> {
            let t = m.matchrule.tag_id.as_deref()?;
            Some(t.parse::<u64>().ok().and_then(|id| plaza_names.get(&id)))
        };
        let mut ids = self.wechat_tags.map(account)?;
        let unmapped = menus
            .iter()
            .filter_map(|m| tag_name(m).flatten())
            .any(|name| !ids.contains_key(name));
        if unmapped {
            ids = self.reconcile_wechat_tags(account, settings).await?.map;
        }
        let mut out = Vec::with_capacity(menus.len());
        for m in menus {
            let mut rule = m.matchrule.clone();
            match tag_name(m) {
                None => {}
                Some(Some(name)) if ids.contains_key(name) => {
                    rule.tag_id = ids.get(name).map(i64::to_string);
                }
                Some(_) => {
                    tracing::warn!(
                        account,
                        menuid = m.menuid,
                        tag_id = ?m.matchrule.tag_id,
                        "a conditional menu names a tag that no longer exists; not published to WeChat"
                    );
                    continue;
                }
            }
            out.push(json!({ "button": m.button, "matchrule": rule }));
        }
        Ok(out)
    }
}

/// The error an admin route answers when the menus changed in Plaza but WeChat refused them:
/// the same kind (so the same status), saying what is stored and how to retry.
pub fn stored_but_refused(account: &str, e: PlazaError) -> PlazaError {
    let message = format!(
        "the menu is stored in Plaza but WeChat refused it: {}; retry with POST /api/v1/accounts/{account}/menu/publish",
        e.message()
    );
    match e {
        PlazaError::NotFound(_) => PlazaError::NotFound(message),
        PlazaError::PermissionDenied(_) => PlazaError::PermissionDenied(message),
        PlazaError::Unauthorized(_) => PlazaError::Unauthorized(message),
        PlazaError::QuotaExceeded { resets_at, .. } => {
            PlazaError::QuotaExceeded { message, resets_at }
        }
        PlazaError::OutsideWindow(_) => PlazaError::OutsideWindow(message),
        PlazaError::Invalid(_) => PlazaError::Invalid(message),
        PlazaError::TooLarge(_) => PlazaError::TooLarge(message),
        PlazaError::Conflict(_) => PlazaError::Conflict(message),
        PlazaError::Unavailable(_) => PlazaError::Unavailable(message),
        PlazaError::Internal(_) => PlazaError::Internal(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_its_kind_and_says_what_is_stored() {
        let e = stored_but_refused(
            "shop",
            PlazaError::PermissionDenied("WeChat error 48001: not authorised".into()),
        );
        assert_eq!(e.code(), "permission_denied");
        let m = e.message();
        assert!(m.contains("stored in Plaza") && m.contains("48001"), "{m}");
        assert!(m.contains("/api/v1/accounts/shop/menu/publish"), "{m}");
    }
}
