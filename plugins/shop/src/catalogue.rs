//! The catalogue: products with SKUs (attributes such as 颜色/尺码, a price), stock kept as
//! storage counters (`stock:{product}:{sku}`) so that checkout can check and decrement them in
//! one `storage.batch`.

use std::collections::BTreeMap;

use plaza_sdk::storage;
use plaza_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::external::ProductSnapshot;
use crate::util::check_id;

/// One sellable variant of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sku {
    pub id: String,
    /// e.g. `{"颜色":"红","尺码":"M"}`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub price_cents: i64,
}

/// A product as stored (stock is not here: it lives in the counters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Media ids (`media.put`), shown from `/media/{account}/{id}`.
    #[serde(default)]
    pub images: Vec<String>,
    /// On shelf (sold) or off shelf (hidden, not sold).
    #[serde(default = "yes")]
    pub on_shelf: bool,
    pub skus: Vec<Sku>,
}

fn yes() -> bool {
    true
}

/// What an operator sends to create or replace a product; `stock` per SKU is optional (initial
/// stock of a new SKU; use the stock route to change it later).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default = "yes")]
    pub on_shelf: bool,
    pub skus: Vec<SkuInput>,
}

/// A SKU in [`ProductInput`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuInput {
    pub id: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub price_cents: i64,
    #[serde(default)]
    pub stock: Option<i64>,
}

impl ProductInput {
    /// Validates and builds the stored product.
    pub fn into_product(self, id: &str) -> Result<(Product, Vec<(String, i64)>)> {
        check_id("product id", id)?;
        let title = self.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 120 {
            return Err(Error::invalid("title must be 1 to 120 characters"));
        }
        if self.description.chars().count() > 5000 {
            return Err(Error::invalid("description is limited to 5000 characters"));
        }
        if self.images.len() > 9 || self.images.iter().any(|m| check_id("image", m).is_err()) {
            return Err(Error::invalid(
                "images: up to 9 media ids (letters, digits, _ or -)",
            ));
        }
        if self.skus.is_empty() || self.skus.len() > 100 {
            return Err(Error::invalid("a product needs 1 to 100 skus"));
        }
        let mut skus = Vec::new();
        let mut stocks = Vec::new();
        for s in self.skus {
            check_id("sku id", &s.id)?;
            if skus.iter().any(|k: &Sku| k.id == s.id) {
                return Err(Error::invalid(format!("sku {:?} appears twice", s.id)));
            }
            if s.price_cents <= 0 || s.price_cents > 100_000_000 {
                return Err(Error::invalid(format!(
                    "sku {:?}: price_cents must be 1 to 100000000",
                    s.id
                )));
            }
            if let Some(n) = s.stock {
                if !(0..=10_000_000).contains(&n) {
                    return Err(Error::invalid(format!(
                        "sku {:?}: stock must be 0 to 10000000",
                        s.id
                    )));
                }
                stocks.push((s.id.clone(), n));
            }
            skus.push(Sku {
                id: s.id,
                attributes: s.attributes,
                price_cents: s.price_cents,
            });
        }
        Ok((
            Product {
                id: id.to_string(),
                title,
                description: self.description,
                images: self.images,
                on_shelf: self.on_shelf,
                skus,
            },
            stocks,
        ))
    }
}

impl Product {
    /// The SKU `id`.
    pub fn sku(&self, id: &str) -> Option<&Sku> {
        self.skus.iter().find(|s| s.id == id)
    }

    /// The lowest SKU price (the "from" price on cards).
    pub fn min_price(&self) -> i64 {
        self.skus.iter().map(|s| s.price_cents).min().unwrap_or(0)
    }
}

/// Storage key of a product.
pub fn product_key(id: &str) -> String {
    format!("product:{id}")
}

/// Storage key of a SKU's stock counter.
pub fn stock_key(product: &str, sku: &str) -> String {
    format!("stock:{product}:{sku}")
}

/// The product `id`, or `None`.
pub fn get(id: &str) -> Result<Option<Product>> {
    storage::get_json(&product_key(id))
}

/// The product `id`, or `not-found`.
pub fn require(id: &str) -> Result<Product> {
    get(id)?.ok_or_else(|| Error::not_found(format!("no product {id:?}")))
}

/// Current stock of a SKU.
pub fn stock(product: &str, sku: &str) -> Result<i64> {
    storage::increment(&stock_key(product, sku), 0)
}

/// Every product, in id order.
pub fn all() -> Result<Vec<Product>> {
    storage::scan_prefix_json::<Product>("product:")
        .map(|r| r.map(|(_, p)| p))
        .collect()
}

/// Creates or replaces a product; SKUs given a `stock` get their counter set to it.
pub fn put(id: &str, input: ProductInput) -> Result<Product> {
    let (product, stocks) = input.into_product(id)?;
    storage::set_json(&product_key(id), &product)?;
    for (sku, n) in stocks {
        set_stock(id, &sku, n)?;
    }
    Ok(product)
}

/// Sets a SKU's stock to `n` (by adding the difference to the counter, so checkouts running at
/// the same moment still count: the result is `n` minus what they took).
pub fn set_stock(product: &str, sku: &str, n: i64) -> Result<i64> {
    let key = stock_key(product, sku);
    let current = storage::increment(&key, 0)?;
    storage::increment(&key, n - current)
}

/// Adds `delta` to a SKU's stock; refuses to go below zero.
pub fn add_stock(product: &str, sku: &str, delta: i64) -> Result<i64> {
    let key = stock_key(product, sku);
    if delta < 0 {
        let outcome = storage::batch(
            &[storage::Check::counter_at_least(key.clone(), -delta)],
            &[storage::Write::increment(key.clone(), delta)],
        )?;
        if outcome != storage::BatchOutcome::Applied {
            return Err(Error::conflict(format!(
                "stock of {product}/{sku} is below {}",
                -delta
            )));
        }
        return storage::increment(&key, 0);
    }
    storage::increment(&key, delta)
}

/// Every SKU of the catalogue with its current stock, for the bridge's outbound sync.
pub fn snapshots() -> Result<Vec<ProductSnapshot>> {
    let mut out = Vec::new();
    for p in all()? {
        for s in &p.skus {
            out.push(ProductSnapshot {
                product_id: p.id.clone(),
                sku_id: s.id.clone(),
                title: sku_title(&p, s),
                price_cents: s.price_cents,
                stock: stock(&p.id, &s.id)?,
            });
        }
    }
    Ok(out)
}

/// `Title (红 / M)`.
pub fn sku_title(p: &Product, s: &Sku) -> String {
    if s.attributes.is_empty() {
        p.title.clone()
    } else {
        let attrs: Vec<&str> = s.attributes.values().map(String::as_str).collect();
        format!("{} ({})", p.title, attrs.join(" / "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> ProductInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn products_are_validated() {
        let (p, stocks) = input(
            r#"{"title":" 马克杯 Mug ","skus":[{"id":"red","attributes":{"颜色":"红"},"price_cents":1999,"stock":5}]}"#,
        )
        .into_product("mug")
        .unwrap();
        assert_eq!(p.title, "马克杯 Mug");
        assert_eq!(stocks, vec![("red".to_string(), 5)]);
        assert_eq!(sku_title(&p, &p.skus[0]), "马克杯 Mug (红)");
        assert!(
            input(r#"{"title":"x","skus":[]}"#)
                .into_product("a")
                .is_err()
        );
        assert!(
            input(r#"{"title":"x","skus":[{"id":"a","price_cents":0}]}"#)
                .into_product("a")
                .is_err()
        );
        assert!(
            input(
                r#"{"title":"x","skus":[{"id":"a","price_cents":1},{"id":"a","price_cents":2}]}"#
            )
            .into_product("a")
            .is_err()
        );
        assert!(
            input(r#"{"title":"x","skus":[{"id":"a","price_cents":1}]}"#)
                .into_product("a/b")
                .is_err()
        );
    }
}
