//! The checksum chain can be recomputed from the transaction list alone, by anyone: here by
//! independent code in this test (its own SHA-256 and number handling), by the README's short
//! Python script, and by the admin tool from the stored history.

use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::TestApp;
use serde_json::json;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

/// A balance with every kind of entry: INC, DEC, INC with a TTL, expiry, subjects, keys.
async fn eventful_balance(app: &TestApp) -> String {
    let created = app.create_balance(json!({"balanceType": "EUR", "balanceMinLimit": -5})).await;
    let id = created["balanceId"].as_str().unwrap().to_owned();
    let path = format!("/balances/{id}/operations");
    for body in [
        r#"{"amount": 10.10, "type": "INC", "subject": "first"}"#,
        r#"{"amount": 0.00000001, "type": "INC"}"#,
        r#"{"amount": 1.5e1, "type": "DEC"}"#,
        r#"{"amount": 3, "type": "INC", "ttlInSeconds": 1, "subject": "short-lived"}"#,
    ] {
        assert_eq!(app.send_raw("POST", &path, body.into(), &[]).await.status, 200, "{body}");
    }
    assert_eq!(app.operate_with_key(&id, json!({"amount": 2.5, "type": "INC"}), "key with spaces").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(app.operate(&id, json!({"amount": 0.1, "type": "DEC"})).await.status, 200);
    id
}

/// Reads raw JSON text so that numbers keep exactly the digits the API sent.
async fn raw_entries(app: &TestApp, id: &str) -> Vec<HashMap<String, Box<RawValue>>> {
    let text = app.get_text(&format!("/balances/{id}/transactions?order=asc&pageSize=1000")).await;
    #[derive(serde::Deserialize)]
    struct Page {
        transactions: Vec<HashMap<String, Box<RawValue>>>,
    }
    serde_json::from_str::<Page>(&text).unwrap().transactions
}

fn field(entry: &HashMap<String, Box<RawValue>>, name: &str) -> String {
    let raw = entry[name].get();
    match raw {
        "null" => String::new(),
        quoted if quoted.starts_with('"') => serde_json::from_str::<String>(quoted).unwrap(),
        number => number.to_owned(),
    }
}

#[tokio::test]
async fn the_chain_recomputes_from_the_transaction_list_with_independent_code() {
    let app = TestApp::spawn().await;
    let id = eventful_balance(&app).await;
    let entries = raw_entries(&app, &id).await;
    assert_eq!(entries.len(), 7, "six operations and one expiry");
    let mut checksum = hex::encode(Sha256::digest(id.as_bytes()));
    let fields = [
        "id",
        "type",
        "amount",
        "balanceAfter",
        "createdAt",
        "requestTimeEpoch",
        "expiredAt",
        "session",
        "mainTxId",
        "subject",
    ];
    for entry in &entries {
        let mut lines = vec![checksum.clone()];
        lines.extend(fields.iter().map(|name| field(entry, name)));
        checksum = hex::encode(Sha256::digest(lines.join("\n").as_bytes()));
        assert_eq!(checksum, field(entry, "checksum"), "entry {}", field(entry, "id"));
    }
    let balance = app.send("GET", &format!("/balances/{id}"), None).await.body;
    assert_eq!(balance["transactionsChecksum"], json!(checksum));
    assert_eq!(field(&entries[0], "amount"), "10.1", "amounts in canonical form");
    assert_eq!(field(&entries[2], "amount"), "15");
    assert_eq!(field(&entries[5], "amount"), "3", "the expiry entry");
    assert_eq!(field(&entries[5], "mainTxId"), field(&entries[3], "id"));
}

#[tokio::test]
async fn the_readme_script_verifies_the_chain_over_http() {
    let app = TestApp::spawn().await;
    let id = eventful_balance(&app).await;
    let root = workspace_root();
    let python =
        std::env::var("POCKETBOOK_PYTHON").unwrap_or_else(|_| root.join(".venv/bin/python").display().to_string());
    let url = app.url.clone();
    let key = app.api_key.clone();
    let script = root.join("scripts/verify_chain.py");
    let output =
        tokio::task::spawn_blocking(move || Command::new(python).arg(script).args([&url, &key, &id]).output().unwrap())
            .await
            .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("chain verified: 7 entries"), "{stdout}");
}
