//! The admin tool, run as a process with the same environment the functions read.

use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::edge::auth::hash_api_key;
use pocketbook_tests::app::{binary, unique};
use pocketbook_tests::{local_dynamodb, TestApp};
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
