//! What the store's test files share: a store on a test database, and an account.

use llmlab_store::{DbSettings, NewApiKey, NewUser, Store, User};
use llmlab_test_support::TestDb;

pub(crate) async fn open(db: &TestDb) -> Store {
    Store::connect(&DbSettings::from_url(db.url()).unwrap()).await.unwrap()
}

/// An account named `name`, with one key `llm_{name}`, created at `at`.
pub(crate) async fn user_at(store: &Store, name: &str, at: i64) -> User {
    let key =
        NewApiKey { key_id: format!("llm_{name}"), secret_hash: format!("hash-{name}"), name: None, created_at: at };
    store
        .create_user(&NewUser { public_id: format!("usr_{name}"), name: Some(name.into()), created_at: at }, &key)
        .await
        .unwrap()
}
