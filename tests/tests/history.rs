//! The transaction list end to end: pages in both orders, tokens that cannot be tampered
//! with, and expiring credits that leave through history entries.

use pocketbook_tests::TestApp;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

async fn balance_with_entries(app: &TestApp, count: usize) -> String {
    let id = app.new_balance().await;
    for i in 0..count {
        let answer = app.operate(&id, json!({"amount": i + 1, "type": "INC", "subject": format!("entry {i}")})).await;
        assert_eq!(answer.status, 200);
    }
    id
}

fn subjects(entries: &[Value]) -> Vec<String> {
    entries.iter().map(|e| e["subject"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn pages_walk_the_whole_history_in_both_orders_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let id = balance_with_entries(&app, 23).await;
    let expected: Vec<String> = (0..23).map(|i| format!("entry {i}")).collect();
    for page_size in [1, 5, 7, 23, 100] {
        let asc = app.all_transactions(&id, "asc", page_size).await;
        assert_eq!(subjects(&asc), expected, "asc, pages of {page_size}");
        let desc = app.all_transactions(&id, "desc", page_size).await;
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(subjects(&desc), reversed, "desc, pages of {page_size}");
        let ids: HashSet<&str> = desc.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 23);
    }
}

#[tokio::test]
async fn the_default_is_newest_first_in_pages_of_100_and_the_last_page_has_no_token() {
    let app = TestApp::spawn().await;
    let id = balance_with_entries(&app, 3).await;
    let answer = app.send("GET", &format!("/balances/{id}/transactions"), None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(subjects(answer.body["transactions"].as_array().unwrap()), ["entry 2", "entry 1", "entry 0"]);
    assert!(answer.body.get("paginationToken").is_none());

    let exact = app.send("GET", &format!("/balances/{id}/transactions?pageSize=3"), None).await;
    assert!(exact.body.get("paginationToken").is_none(), "a full last page has no token either");
    let empty = app.create_balance(json!({"balanceType": "EUR"})).await;
    let none = app.send("GET", &format!("/balances/{}/transactions", empty["balanceId"].as_str().unwrap()), None).await;
    assert_eq!(none.status, 200);
    assert_eq!(none.body["transactions"], json!([]));
}

#[tokio::test]
async fn new_entries_during_a_walk_neither_shift_nor_repeat_the_pages() {
    let app = TestApp::spawn().await;
    let id = balance_with_entries(&app, 6).await;
    let first = app.send("GET", &format!("/balances/{id}/transactions?pageSize=3"), None).await;
    let token = first.body["paginationToken"].as_str().unwrap().to_owned();
    app.operate(&id, json!({"amount": 1, "type": "INC", "subject": "late"})).await;
    let second =
        app.send("GET", &format!("/balances/{id}/transactions?pageSize=3&paginationToken={token}"), None).await;
    assert_eq!(subjects(second.body["transactions"].as_array().unwrap()), ["entry 2", "entry 1", "entry 0"]);
}

#[tokio::test]
async fn a_tampered_or_foreign_pagination_token_is_a_400() {
    let app = TestApp::spawn().await;
    let id = balance_with_entries(&app, 4).await;
    let other = balance_with_entries(&app, 4).await;
    let page = app.send("GET", &format!("/balances/{id}/transactions?pageSize=2"), None).await;
    let token = page.body["paginationToken"].as_str().unwrap().to_owned();

    let mut flipped = token.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let truncated = &token[..token.len() - 2];
    let cases = [
        format!("/balances/{id}/transactions?pageSize=2&paginationToken={flipped}"),
        format!("/balances/{id}/transactions?pageSize=2&paginationToken={truncated}"),
        format!("/balances/{id}/transactions?pageSize=2&paginationToken=garbage"),
        format!("/balances/{other}/transactions?pageSize=2&paginationToken={token}"),
        format!("/balances/{id}/transactions?pageSize=2&order=asc&paginationToken={token}"),
    ];
    for path in cases {
        let answer = app.send("GET", &path, None).await;
        assert_eq!(answer.status, 400, "{path}");
        assert_eq!(answer.body["error"]["field"], "paginationToken", "{path}");
    }
    let foreign_key = app.new_api_key("someone-else", &["read"]).await;
    let auth = format!("Bearer {foreign_key}");
    let path = format!("/balances/{id}/transactions?pageSize=2&paginationToken={token}");
    let foreign = app.send_as("GET", &path, None, &[("authorization", &auth)]).await;
    assert_eq!(foreign.status, 400, "a token is bound to the project too");
}

#[tokio::test]
async fn bad_page_parameters_are_400s() {
    let app = TestApp::spawn().await;
    let id = balance_with_entries(&app, 1).await;
    for (query, field) in [
        ("pageSize=0", "pageSize"),
        ("pageSize=1001", "pageSize"),
        ("pageSize=-1", "pageSize"),
        ("pageSize=ten", "pageSize"),
        ("order=newest", "order"),
    ] {
        let answer = app.send("GET", &format!("/balances/{id}/transactions?{query}"), None).await;
        assert_eq!((answer.status, answer.body["error"]["field"].as_str()), (400, Some(field)), "{query}");
    }
    let max = app.send("GET", &format!("/balances/{id}/transactions?pageSize=1000"), None).await;
    assert_eq!(max.status, 200);
}

#[tokio::test]
async fn an_expired_credit_leaves_through_an_expiry_entry_and_no_answer_counts_it() {
    let app = TestApp::spawn().await;
    let created = app.create_balance(json!({"balanceType": "PTS"})).await;
    let id = created["balanceId"].as_str().unwrap().to_owned();
    let credit = app.operate(&id, json!({"amount": 10, "type": "INC", "ttlInSeconds": 1})).await;
    assert_eq!(credit.status, 200);
    let credit_tx = credit.body["transaction"].clone();
    let expires_at = credit_tx["createdAt"].as_i64().unwrap() + 1_000;
    assert_eq!(credit_tx["expiredAt"], json!(expires_at));
    let iso = chrono::DateTime::from_timestamp_millis(expires_at)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(credit.body["balanceExpireAt"], json!(iso));
    app.operate(&id, json!({"amount": 5, "type": "INC"})).await;
    let dec = app.operate(&id, json!({"amount": 3, "type": "DEC"})).await;
    assert_eq!(dec.body["balanceAmount"], json!(12));

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The list is the first to look after the expiry: it writes the expiry before answering.
    let listed = app.send("GET", &format!("/balances/{id}/transactions"), None).await;
    let newest = &listed.body["transactions"][0];
    assert_eq!(newest["type"], "DEC");
    assert_eq!(newest["amount"], json!(7), "what the DEC left of the credit");
    assert_eq!(newest["mainTxId"], credit_tx["id"]);
    assert_eq!(newest["createdAt"], json!(expires_at), "dated at the expiry");
    assert_eq!(newest["balanceAfter"], json!(5));
    let got = app.send("GET", &format!("/balances/{id}"), None).await;
    assert_eq!(got.body["balanceAmount"], json!(5));
    assert_eq!(got.body["balanceExpireAt"], Value::Null);
    assert_eq!(got.body["transactionsCount"], 4);
}

#[tokio::test]
async fn get_balance_writes_a_due_expiry_before_answering() {
    let app = TestApp::spawn().await;
    let created = app.create_balance(json!({"balanceType": "PTS"})).await;
    let id = created["balanceId"].as_str().unwrap().to_owned();
    app.operate(&id, json!({"amount": 2.5, "type": "INC", "ttlInSeconds": 1})).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let got = app.send("GET", &format!("/balances/{id}"), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["balanceAmount"], json!(0));
    assert_eq!(got.body["transactionsCount"], 2);
    assert_eq!(got.body["transactionInProgress"], false);
    let refused = app.operate(&id, json!({"amount": 1, "type": "DEC"})).await;
    assert_eq!(refused.error_code(), Some("INSUFFICIENT_FUNDS"), "the expired credit cannot be spent");
}
