//! The admin tool, run as a process with the same environment the functions read.

use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::edge::auth::hash_api_key;
use pocketbook_tests::app::{binary, unique};
use pocketbook_tests::{local_dynamodb, AppOptions, TestApp};
use serde_json::json;
use std::process::{Command, Output};

fn admin(table: &str, args: &[&str]) -> Output {
    Command::new(binary("pocketbook-admin"))
        .args(args)
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", local_dynamodb::endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run pocketbook-admin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn create_table_is_idempotent_with_if_missing() {
    let table = unique("admin-table");
    let created = admin(&table, &["create-table"]);
    assert!(created.status.success(), "{created:?}");
    assert_eq!(stdout(&created).trim(), format!("table created {table}"));
    assert!(!admin(&table, &["create-table"]).status.success(), "a second plain create fails");
    let again = admin(&table, &["create-table", "--if-missing"]);
    assert!(again.status.success());
    assert!(stdout(&again).contains("already exists"));
}

#[tokio::test]
async fn a_created_api_key_is_printed_once_and_stored_only_as_a_hash() {
    let app = TestApp::spawn().await;
    let output = admin(&app.table, &["create-api-key", "--project", "shop-1", "--scopes", "read", "--quiet"]);
    assert!(output.status.success(), "{output:?}");
    let key = stdout(&output).trim().to_owned();
    let record = app.store.api_key(&hash_api_key(&key)).await.unwrap().expect("stored under its hash");
    assert_eq!(record.project_id.as_str(), "shop-1");
    assert_eq!(record.scopes, vec!["read".to_owned()]);
    let scan = app.store.client().scan().table_name(&app.table).send().await.unwrap();
    assert!(!format!("{:?}", scan.items()).contains(&key), "the key itself is nowhere in the table");

    let auth = format!("Bearer {key}");
    let answer =
        app.send_as("POST", "/balances", Some(&json!({"balanceType": "EUR"})), &[("authorization", &auth)]).await;
    assert_eq!(answer.status, 403, "a read-only key works, and only for reading");
    assert!(!admin(&app.table, &["create-api-key", "--project", "bad#project"]).status.success());
}

#[tokio::test]
async fn verify_chain_passes_on_a_real_history_and_names_a_tampered_entry() {
    let app = TestApp::spawn().await;
    let id = app.new_balance().await;
    for amount in [5, 3, 2] {
        app.operate(&id, json!({"amount": amount, "type": "INC"})).await;
    }
    let ok = admin(&app.table, &["verify-chain", "--project", &app.project, "--balance", &id]);
    assert!(ok.status.success(), "{ok:?}");
    assert!(stdout(&ok).starts_with("chain verified: 3 entries"));

    // Rewrite history behind the ledger's back: entry 2 now claims another amount.
    let pk = format!("P#{}#B#{}", ProjectId::parse(&app.project).unwrap(), BalanceId::parse(&id).unwrap());
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("T#{:020}", 2)))
        .update_expression("SET amount = :a")
        .expression_attribute_values(":a", aws_sdk_dynamodb::types::AttributeValue::N("30".into()))
        .send()
        .await
        .unwrap();
    let broken = admin(&app.table, &["verify-chain", "--project", &app.project, "--balance", &id]);
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("entry 2"), "{broken:?}");
}

/// `GET /v1.0/wallets` with the key: its status and error code.
async fn use_key(app: &TestApp, key: &str) -> (u16, String) {
    let auth = format!("Bearer {key}");
    let answer = app.send_as("GET", "/v1.0/wallets?limit=1", None, &[("authorization", &auth)]).await;
    (answer.status, answer.body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

/// The functions read a key's record on every request (no key cache), as under `make dev`.
async fn app_without_key_cache() -> TestApp {
    TestApp::spawn_with(AppOptions::default().env("POCKETBOOK_API_KEY_CACHE_SECONDS", "0")).await
}

fn created_key(app: &TestApp, args: &[&str]) -> String {
    let output = admin(&app.table, &[&["create-api-key", "--project", &app.project, "--quiet"], args].concat());
    assert!(output.status.success(), "{output:?}");
    stdout(&output).lines().next().unwrap_or_default().to_owned()
}

/// The id of `key` in a `list-api-keys` listing, found by its prefix.
fn key_id_of(listing: &str, key: &str) -> String {
    let prefix = &key[..11];
    let line = listing.lines().find(|line| line.contains(prefix)).unwrap_or_else(|| panic!("{prefix} in {listing}"));
    line.split_whitespace().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn keys_are_listed_without_the_key_and_a_revoked_one_stops_at_once() {
    let app = app_without_key_cache().await;
    let key = created_key(&app, &[]);
    assert_eq!(use_key(&app, &key).await, (200, String::new()));
    let listing = admin(&app.table, &["list-api-keys", "--project", &app.project]);
    assert!(listing.status.success(), "{listing:?}");
    let listing = stdout(&listing);
    assert!(!listing.contains(&key), "never the key: {listing}");
    let key_id = key_id_of(&listing, &key);
    let row = listing.lines().find(|line| line.starts_with(&key_id)).unwrap_or_default();
    assert!(row.contains("read,write"), "its scopes: {row}");
    assert_eq!(row.split_whitespace().filter(|cell| cell.ends_with('Z')).count(), 2, "created and last used: {row}");
    let other = admin(&app.table, &["list-api-keys", "--project", "another-project"]);
    assert!(!stdout(&other).contains(&key_id), "another project's listing does not show it");

    assert!(!admin(&app.table, &["revoke-api-key", "--project", "another-project", "--key-id", &key_id])
        .status
        .success());
    assert_eq!(use_key(&app, &key).await, (200, String::new()), "another project cannot revoke it");
    let revoked = admin(&app.table, &["revoke-api-key", "--project", &app.project, "--key-id", &key_id]);
    assert!(revoked.status.success(), "{revoked:?}");
    assert_eq!(use_key(&app, &key).await, (401, "KEY_REVOKED".to_owned()), "refused from the next request on");
}

#[tokio::test]
async fn a_key_with_an_end_date_stops_then_and_a_rotated_key_after_its_grace() {
    let app = app_without_key_cache().await;
    let short = created_key(&app, &["--expires-in", "2s"]);
    assert_eq!(use_key(&app, &short).await, (200, String::new()));
    for bad in ["2", "1h30m", "0d"] {
        assert!(!admin(&app.table, &["create-api-key", "--project", &app.project, "--expires-in", bad])
            .status
            .success());
    }

    let old = created_key(&app, &["--scopes", "read", "--rate-limit", "100"]);
    let listing = stdout(&admin(&app.table, &["list-api-keys", "--project", &app.project]));
    let old_id = key_id_of(&listing, &old);
    let rotated = admin(
        &app.table,
        &["rotate-api-key", "--project", &app.project, "--key-id", &old_id, "--grace", "2s", "--quiet"],
    );
    assert!(rotated.status.success(), "{rotated:?}");
    let new = stdout(&rotated).trim().to_owned();
    assert_ne!(new, old);
    assert_eq!(use_key(&app, &old).await, (200, String::new()), "the old key works through its grace");
    assert_eq!(use_key(&app, &new).await, (200, String::new()));
    let listing = stdout(&admin(&app.table, &["list-api-keys", "--project", &app.project]));
    let new_row = listing.lines().find(|line| line.starts_with(&key_id_of(&listing, &new))).unwrap_or_default();
    assert!(new_row.contains("read ") && new_row.trim_end().ends_with("100"), "same scopes and rate: {new_row}");

    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(use_key(&app, &short).await, (401, "KEY_EXPIRED".to_owned()));
    assert_eq!(use_key(&app, &old).await, (401, "KEY_EXPIRED".to_owned()), "the grace is over");
    assert_eq!(use_key(&app, &new).await, (200, String::new()));
    let again = admin(&app.table, &["rotate-api-key", "--project", &app.project, "--key-id", &old_id]);
    assert!(!again.status.success(), "an ended key is not rotated again");
}

#[tokio::test]
async fn a_rate_limited_key_gets_429_with_retry_after_beyond_its_rate() {
    let app = TestApp::spawn().await;
    let key = created_key(&app, &["--rate-limit", "3"]);
    let auth = format!("Bearer {key}");
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..5 {
        let answer = app.send_as("GET", "/v1.0/wallets?limit=1", None, &[("authorization", &auth)]).await;
        statuses.push(answer.status);
        if answer.status == 429 {
            refused.get_or_insert(answer);
        }
    }
    // A minute boundary may fall inside the loop: then the count starts again.
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    assert!((3..=5).contains(&allowed) && statuses[..3] == [200, 200, 200], "{statuses:?}");
    if let Some(refused) = refused {
        assert_eq!(refused.body["error"]["code"], "RATE_LIMITED", "{}", refused.body);
        let retry: u32 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
    } else {
        assert_eq!(allowed, 5, "a new minute began after the third: {statuses:?}");
    }
    // A key without a limit is never counted: one round trip fewer than a limited key's
    // (both keys cached by now).
    let free = created_key(&app, &[]);
    for _ in 0..5 {
        assert_eq!(use_key(&app, &free).await.0, 200);
    }
    let limited = created_key(&app, &["--rate-limit", "100"]);
    let _ = round_trips_of(&app, &limited).await;
    assert_eq!(
        round_trips_of(&app, &limited).await,
        round_trips_of(&app, &free).await + 1,
        "the count is one conditional UpdateItem"
    );
}

/// The DynamoDB round trips of one wallet listing with the key.
async fn round_trips_of(app: &TestApp, key: &str) -> u64 {
    let auth = format!("Bearer {key}");
    let answer = app.send_as("GET", "/v1.0/wallets?limit=1", None, &[("authorization", &auth)]).await;
    app.round_trips("list-wallets", &answer)
}
