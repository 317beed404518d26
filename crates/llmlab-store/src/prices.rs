//! An account's own prices (setting one lives with repricing, in events.rs).

use crate::{CustomPrice, Store, StoreResult, with_pool};

const PRICE_COLUMNS: &str =
    "model_key, provider, input, output, cache_read, cache_write_5m, cache_write_1h, created_at, updated_at";

impl Store {
    /// The account's custom prices, by model.
    pub async fn custom_prices(&self, user_id: i64) -> StoreResult<Vec<CustomPrice>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&format!("select {PRICE_COLUMNS} from custom_prices where user_id = $1 order by model_key")).persistent(self.persistent)
                .bind(user_id)
                .fetch_all(pool)
                .await
        })?)
    }

    /// Removes the account's price for a model; `false` if there was none.
    /// Events already priced with it keep their cost.
    pub async fn delete_custom_price(&self, user_id: i64, model_key: &str) -> StoreResult<bool> {
        let result = with_pool!(self, pool => {
            sqlx::query("delete from custom_prices where user_id = $1 and model_key = $2").persistent(self.persistent)
                .bind(user_id)
                .bind(model_key)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(result > 0)
    }
}
