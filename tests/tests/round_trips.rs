//! DynamoDB round trips per action, from the counter on each function's client (reported in
//! its request log line), with the function warm and the API key already cached.

use pocketbook_tests::{Answer, TestApp};
use serde_json::json;
use std::time::Duration;

/// One request per function so that each has looked up (and cached) the API key.
async fn warm(app: &TestApp) -> String {
    let id = app.new_balance().await;
    app.operate(&id, json!({"amount": 1, "type": "INC"})).await;
    app.send("GET", &format!("/balances/{id}"), None).await;
    app.send("GET", &format!("/balances/{id}/transactions"), None).await;
    id
}

fn calls(app: &TestApp, function: &str, answer: &Answer) -> u64 {
    assert!(answer.status < 300, "{function}: {} {}", answer.status, answer.body);
    app.round_trips(function, answer)
}

#[tokio::test]
async fn create_balance_costs_one_round_trip_with_or_without_an_idempotency_key() {
    let app = TestApp::spawn().await;
    warm(&app).await;
    let plain = app.send("POST", "/balances", Some(&json!({"balanceType": "EUR"}))).await;
    assert_eq!(calls(&app, "create-balance", &plain), 1);
    let auth = format!("Bearer {}", app.api_key);
    let keyed = app
        .send_as(
            "POST",
            "/balances",
            Some(&json!({"balanceType": "EUR"})),
            &[("authorization", &auth), ("idempotency-key", "c-1")],
        )
        .await;
    assert_eq!(calls(&app, "create-balance", &keyed), 1);
}

#[tokio::test]
async fn get_balance_costs_one_round_trip() {
    let app = TestApp::spawn().await;
    let id = warm(&app).await;
    let answer = app.send("GET", &format!("/balances/{id}"), None).await;
    assert_eq!(calls(&app, "get-balance", &answer), 1);
}

#[tokio::test]
async fn an_uncontended_operation_costs_two_round_trips_with_or_without_a_key() {
    let app = TestApp::spawn().await;
    let id = warm(&app).await;
    for body in [
        json!({"amount": 5, "type": "INC"}),
        json!({"amount": 2, "type": "DEC"}),
        json!({"amount": 5, "type": "INC", "ttlInSeconds": 3600}),
    ] {
        let answer = app.operate(&id, body.clone()).await;
        assert_eq!(calls(&app, "execute-operation", &answer), 2, "{body}");
    }
    let keyed = app.operate_with_key(&id, json!({"amount": 1, "type": "INC"}), "rt-1").await;
    assert_eq!(calls(&app, "execute-operation", &keyed), 2, "the idempotency record rides in the commit");
}

#[tokio::test]
async fn a_dec_that_consumes_live_credits_reads_them_once_more() {
    let app = TestApp::spawn().await;
    let id = warm(&app).await;
    app.operate(&id, json!({"amount": 5, "type": "INC", "ttlInSeconds": 3600})).await;
    let answer = app.operate(&id, json!({"amount": 2, "type": "DEC"})).await;
    assert_eq!(calls(&app, "execute-operation", &answer), 3, "lock, credits query, commit");
}

#[tokio::test]
async fn a_history_page_costs_one_round_trip_including_the_ownership_check() {
    let app = TestApp::spawn().await;
    let id = warm(&app).await;
    for i in 0..5 {
        app.operate(&id, json!({"amount": i + 1, "type": "INC"})).await;
    }
    let first = app.send("GET", &format!("/balances/{id}/transactions?pageSize=2"), None).await;
    assert_eq!(calls(&app, "list-transactions", &first), 1);
    let token = first.body["paginationToken"].as_str().unwrap();
    let second =
        app.send("GET", &format!("/balances/{id}/transactions?pageSize=2&paginationToken={token}"), None).await;
    assert_eq!(calls(&app, "list-transactions", &second), 1);
    let asc = app.send("GET", &format!("/balances/{id}/transactions?pageSize=2&order=asc"), None).await;
    assert_eq!(calls(&app, "list-transactions", &asc), 1);
}

#[tokio::test]
async fn reading_a_balance_with_a_due_expiry_writes_it_first() {
    let app = TestApp::spawn().await;
    let id = warm(&app).await;
    app.operate(&id, json!({"amount": 5, "type": "INC", "ttlInSeconds": 1})).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let answer = app.send("GET", &format!("/balances/{id}"), None).await;
    assert_eq!(calls(&app, "get-balance", &answer), 4, "read, lock, credits query, commit");
    let again = app.send("GET", &format!("/balances/{id}"), None).await;
    assert_eq!(calls(&app, "get-balance", &again), 1, "and back to one");
}

/// The wallet API's costs, each as the README states them.
#[tokio::test]
async fn wallet_actions_cost_what_the_readme_says() {
    let app = TestApp::spawn().await;
    let create = |name: &str, foreign_id: &str| json!({"name": name, "foreignId": foreign_id});
    // Warm every function (and the main wallet, created by the first deposit).
    let first = app.send("POST", "/v1.0/wallets", Some(&create("a", "rt-a"))).await;
    let a = first.body["id"].as_str().expect("an id").to_owned();
    app.send("POST", "/v1.0/deposits/initiate", Some(&json!({"amount": 100}))).await;
    app.send("GET", &format!("/v1.0/wallets/{a}"), None).await;
    app.send("GET", "/v1.0/wallets", None).await;
    app.send("PATCH", &format!("/v1.0/wallets/{a}"), Some(&json!({"change": {"name": "a"}}))).await;
    app.send("POST", "/v1.0/transfers/initiate", Some(&json!({"destination": a, "amount": 1}))).await;
    for (kind, create) in
        [("quasi-transfers", "/v1.0/quasi-transfers/initiate"), ("fund-requests", "/v1.0/fund-requests")]
    {
        let made = app.send("POST", create, Some(&json!({"destination": a, "amount": 1}))).await;
        app.send("POST", &format!("/v1.0/{kind}/{}/cancel", made.body["id"].as_str().expect("an id")), None).await;
    }

    let b = app.send("POST", "/v1.0/wallets", Some(&create("b", "rt-b"))).await;
    assert_eq!(calls(&app, "create-wallet", &b), 1, "head, index, foreign id: one transaction");
    let b = b.body["id"].as_str().expect("an id").to_owned();
    let by_id = app.send("GET", &format!("/v1.0/wallets/{a}"), None).await;
    assert_eq!(calls(&app, "get-wallet", &by_id), 1);
    let by_foreign_id = app.send("GET", "/v1.0/wallets/rt-a", None).await;
    assert_eq!(calls(&app, "get-wallet", &by_foreign_id), 2);
    let patch = app.send("PATCH", &format!("/v1.0/wallets/{a}"), Some(&json!({"change": {"name": "A"}}))).await;
    assert_eq!(calls(&app, "update-wallet", &patch), 2, "lock, then one transaction");
    let page = app.send("GET", "/v1.0/wallets?limit=2", None).await;
    assert_eq!(calls(&app, "list-wallets", &page), 2, "one index Query, one BatchGetItem");

    let deposit = app.send("POST", "/v1.0/deposits/initiate", Some(&json!({"destination": a, "amount": 50}))).await;
    assert_eq!(calls(&app, "create-deposit", &deposit), 2, "lock, commit");
    let transfer =
        app.send("POST", "/v1.0/transfers/initiate", Some(&json!({"source": a, "destination": b, "amount": 5}))).await;
    assert_eq!(calls(&app, "create-transfer", &transfer), 3, "two locks, one commit");
    let quasi = app
        .send("POST", "/v1.0/quasi-transfers/initiate", Some(&json!({"source": a, "destination": b, "amount": 5})))
        .await;
    assert_eq!(calls(&app, "create-quasi-transfer", &quasi), 3);
    let path = format!("/v1.0/quasi-transfers/{}/receive", quasi.body["id"].as_str().expect("an id"));
    let received = app.send("POST", &path, None).await;
    assert_eq!(calls(&app, "quasi-transfer-command", &received), 4, "read, two locks, one commit");
    let request =
        app.send("POST", "/v1.0/fund-requests", Some(&json!({"source": a, "destination": b, "amount": 5}))).await;
    assert_eq!(calls(&app, "create-fund-request", &request), 3);
    let path = format!("/v1.0/fund-requests/{}/cancel", request.body["id"].as_str().expect("an id"));
    let cancelled = app.send("POST", &path, None).await;
    assert_eq!(calls(&app, "fund-request-command", &cancelled), 2, "read, one transaction");
}

/// FPay's forms of the movements (`using`, a mobile-money source) cost what Pocketbook's own
/// do; reading movements, attempts and transactions costs a read per kind of record.
#[tokio::test]
async fn fpay_movements_and_their_records_cost_a_read_per_kind_of_record() {
    let app = TestApp::spawn().await;
    let create = |name: &str| json!({"name": name});
    let a = app.send("POST", "/v1.0/wallets", Some(&create("a"))).await.body["id"].as_str().expect("an id").to_owned();
    let b = app.send("POST", "/v1.0/wallets", Some(&create("b"))).await.body["id"].as_str().expect("an id").to_owned();
    let id =
        |answer: &Answer| answer.body["id"].as_str().unwrap_or_else(|| panic!("no id: {}", answer.body)).to_owned();
    // Warm every function this test measures.
    let mobile =
        json!({"amount": "100 XOF", "source": "CI MtnMoney +2250500000000", "destination": a, "foreignId": "rt-d"});
    let warm_deposit = id(&app.send("POST", "/v1.0/deposits/initiate", Some(&mobile)).await);
    let warm_quasi = app.send("POST", "/v1.0/quasi-transfers/initiate", Some(&json!({"using": a, "amount": 1}))).await;
    app.send("POST", &format!("/v1.0/quasi-transfers/{}/receive", id(&warm_quasi)), Some(&json!({"using": b}))).await;
    let warm_request = app.send("POST", "/v1.0/fund-requests", Some(&json!({"using": b, "amount": 1}))).await;
    app.send("POST", &format!("/v1.0/fund-requests/{}/send", id(&warm_request)), Some(&json!({"using": a}))).await;
    app.send("GET", &format!("/v1.0/deposits/{warm_deposit}"), None).await;
    app.send("GET", "/v1.0/deposits", None).await;
    let notes = json!({"set": {"description": "warm"}});
    app.send("PATCH", &format!("/v1.0/deposits/{warm_deposit}"), Some(&notes)).await;
    app.send("GET", &format!("/v1.0/attempts/a-{warm_deposit}"), None).await;
    let listed = app.send("GET", "/v1.0/transactions", None).await;
    let transaction = listed.body["items"][0]["id"].as_str().expect("a transaction").to_owned();
    app.send("GET", &format!("/v1.0/transactions/{transaction}"), None).await;
    app.send("PATCH", &format!("/v1.0/transactions/{transaction}"), Some(&notes)).await;

    let deposit = app.send("POST", "/v1.0/deposits/initiate", Some(&mobile)).await;
    assert_eq!(calls(&app, "create-deposit", &deposit), 2, "lock, commit (the transaction rides in it)");
    let deposit = id(&deposit);
    let quasi = app.send("POST", "/v1.0/quasi-transfers/initiate", Some(&json!({"using": a, "amount": 5}))).await;
    assert_eq!(calls(&app, "create-quasi-transfer", &quasi), 2, "no destination yet: one lock, one commit");
    let path = format!("/v1.0/quasi-transfers/{}/receive", id(&quasi));
    let received = app.send("POST", &path, Some(&json!({"id": id(&quasi), "using": b}))).await;
    assert_eq!(calls(&app, "quasi-transfer-command", &received), 4, "read, two locks, one commit");
    let request = app.send("POST", "/v1.0/fund-requests", Some(&json!({"using": b, "amount": 5}))).await;
    assert_eq!(calls(&app, "create-fund-request", &request), 2, "no payer yet: one lock, one commit");
    let path = format!("/v1.0/fund-requests/{}/send", id(&request));
    let sent = app.send("POST", &path, Some(&json!({"id": id(&request), "using": a}))).await;
    assert_eq!(calls(&app, "fund-request-command", &sent), 4, "read, two locks, one commit");
    let open = app.send("POST", "/v1.0/quasi-transfers/initiate", Some(&json!({"using": a, "amount": 1}))).await;
    let cancelled = app.send("POST", &format!("/v1.0/quasi-transfers/{}/cancel", id(&open)), None).await;
    assert_eq!(calls(&app, "quasi-transfer-command", &cancelled), 3, "read, the source's lock, one commit");

    let by_id = app.send("GET", &format!("/v1.0/deposits/{deposit}"), None).await;
    assert_eq!(calls(&app, "get-movement", &by_id), 1, "GetItem");
    let by_foreign_id = app.send("GET", "/v1.0/deposits/rt-d", None).await;
    assert_eq!(by_foreign_id.status, 409, "two deposits share rt-d: {}", by_foreign_id.body);
    let unique = json!({"amount": 1, "destination": a, "foreignId": "rt-once"});
    app.send("POST", "/v1.0/deposits/initiate", Some(&unique)).await;
    let by_foreign_id = app.send("GET", "/v1.0/deposits/rt-once", None).await;
    assert_eq!(calls(&app, "get-movement", &by_foreign_id), 2, "its foreign id's Query, GetItem");
    let page = app.send("GET", "/v1.0/deposits?limit=2", None).await;
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(2), "{}", page.body);
    assert_eq!(calls(&app, "list-movements", &page), 2, "one list Query, one BatchGetItem");
    let next = page.body["pagination"]["nextPage"]["queryString"].as_str().expect("a next page");
    let next = app.send("GET", &format!("/v1.0/deposits{next}"), None).await;
    assert_eq!(calls(&app, "list-movements", &next), 2, "the next page the same");
    let patched = app.send("PATCH", &format!("/v1.0/deposits/{deposit}"), Some(&notes)).await;
    assert_eq!(calls(&app, "update-movement", &patched), 2, "GetItem, UpdateItem");
    let patched = app.send("PATCH", "/v1.0/deposits/rt-once", Some(&notes)).await;
    assert_eq!(calls(&app, "update-movement", &patched), 3, "Query, GetItem, UpdateItem");
    let attempt = app.send("GET", &format!("/v1.0/attempts/a-{deposit}"), None).await;
    assert_eq!(calls(&app, "get-attempt", &attempt), 1, "the movement's GetItem");

    let transactions = app.send("GET", "/v1.0/transactions?limit=3", None).await;
    assert_eq!(transactions.body["items"].as_array().map(Vec::len), Some(3), "{}", transactions.body);
    assert_eq!(
        calls(&app, "list-wallet-transactions", &transactions),
        3,
        "Query, the wallets' and the movements' BatchGetItems"
    );
    let transaction = transactions.body["items"][2]["id"].as_str().expect("a transaction").to_owned();
    let one = app.send("GET", &format!("/v1.0/transactions/{transaction}"), None).await;
    assert_eq!(
        calls(&app, "get-wallet-transaction", &one),
        3,
        "GetItem, its wallet's and its movement's BatchGetItems"
    );
    let patched = app.send("PATCH", &format!("/v1.0/transactions/{transaction}"), Some(&notes)).await;
    assert_eq!(calls(&app, "update-wallet-transaction", &patched), 3, "UpdateItem, the same two BatchGetItems");
}

/// A filter that thins the index out reads it in Queries that double in size (100, 200, ...
/// up to 2,000 items), so one that matches nothing costs about what reading the whole index
/// costs, not one Query per 100 wallets.
#[tokio::test]
async fn a_filter_that_matches_nothing_reads_the_index_in_growing_queries() {
    let app = TestApp::spawn().await;
    app.send("GET", "/v1.0/wallets", None).await; // warm; the project's main wallet exists now
    for i in 0..250 {
        let created = app.send("POST", "/v1.0/wallets", Some(&json!({"name": format!("w{i}")}))).await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let nothing = app.send("GET", "/v1.0/wallets?filter=name%20%3D%20nobody", None).await;
    assert_eq!(nothing.status, 200, "{}", nothing.body);
    assert_eq!(nothing.body["items"], json!([]));
    assert_eq!(calls(&app, "list-wallets", &nothing), 2, "251 index items: a Query of 100, then one of 200");
}
