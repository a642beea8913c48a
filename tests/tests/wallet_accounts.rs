//! Customer wallet accounts end to end through the real function binaries, on the sandbox
//! provider: the whole flow, the token rules, order ids, concurrency, round trips.

use pocketbook::domain::wallet_accounts::{Gateway, MobileNumber};
use pocketbook::services::wallet_accounts::sandbox;
use pocketbook_tests::{Answer, AppOptions, TestApp};
use serde_json::{json, Value};
use std::collections::HashSet;

fn customer() -> String {
    pocketbook_tests::app::unique("cust")
}

/// Creates and links a MOBIKWIK account; its id.
async fn linked_account(app: &TestApp, customer: &str, mobile: &str) -> String {
    let created = app
        .send(
            "POST",
            &format!("/customers/{customer}/wallets"),
            Some(&json!({"gateway": "MOBIKWIK", "command": "authenticate", "mobile_number": mobile})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let otp = &mobile[mobile.len() - 6..];
    let linked = app
        .send("POST", &format!("/customers/{customer}/wallets/{id}"), Some(&json!({"command": "link", "otp": otp})))
        .await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    id
}

/// A fresh token for the customer's (only) linked account.
async fn token(app: &TestApp, customer: &str) -> String {
    let list = app.send("GET", &format!("/customers/{customer}/wallets"), None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    list.body["list"][0]["token"].as_str().expect("a token").to_owned()
}

/// The merchant is the key's project.
fn debit_body(merchant: &str, order: &str, amount: &str, token: &str) -> Value {
    json!({
        "order_id": order,
        "merchant_id": merchant,
        "amount": amount,
        "payment_method_type": "WALLET",
        "payment_method": "MOBIKWIK",
        "direct_wallet_token": token,
        "redirect_after_payment": false,
        "format": "json",
    })
}

async fn debit(app: &TestApp, order: &str, amount: &str, token: &str) -> Answer {
    app.send("POST", "/txns", Some(&debit_body(&app.project, order, amount, token))).await
}

/// The sandbox wallet's balance, read straight from the table.
async fn wallet_amount(app: &TestApp, mobile: &str) -> String {
    let id = sandbox::wallet_balance_id(Gateway::Mobikwik, &MobileNumber::parse(mobile).unwrap());
    let head = app.store.read_head(&sandbox::project(), id).await.unwrap().expect("the sandbox wallet");
    pocketbook::domain::wallet_accounts::two_decimals(head.balance.amount)
}

fn order_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..20].to_owned()
}

fn mobile() -> String {
    format!("9{:09}", rand::random::<u32>() % 1_000_000_000)
}

#[tokio::test]
async fn the_whole_flow_works_end_to_end_through_the_real_binaries() {
    let app = TestApp::spawn().await;
    let (customer, mobile) = (customer(), mobile());
    let base = format!("/customers/{customer}/wallets");

    let created = app
        .send("POST", &base, Some(&json!({"gateway": "MOBIKWIK", "command": "authenticate", "mobile_number": mobile})))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["object"], "wallet_account");
    assert_eq!(created.body["wallet"], "MOBIKWIK");
    assert_eq!(created.body["linked"], false);
    assert!(created.body.get("token").is_none());
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wlt_"));

    let again = app.send("POST", &format!("{base}/{id}"), Some(&json!({"command": "authenticate"}))).await;
    assert_eq!((again.status, again.body["linked"].clone()), (200, json!(false)));
    let wrong = app.send("POST", &format!("{base}/{id}"), Some(&json!({"command": "link", "otp": "000000"}))).await;
    assert_eq!((wrong.status, wrong.error_code()), (422, Some("PROVIDER_REFUSED")), "{}", wrong.body);
    let otp = &mobile[mobile.len() - 6..];
    let linked = app.send("POST", &format!("{base}/{id}"), Some(&json!({"command": "link", "otp": otp}))).await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert_eq!(linked.body["linked"], true);
    assert_eq!(linked.body["current_balance"], "1000.00");
    assert!(linked.body["last_refreshed"].as_str().is_some());

    let list = app.send("GET", &base, None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        (list.body["object"].clone(), list.body["total"].clone(), list.body["count"].clone()),
        (json!("list"), json!(1), json!(1))
    );
    let first = list.body["list"][0]["token"].as_str().unwrap().to_owned();
    assert!(first.starts_with("tok_") && first.len() >= 4 + 26, "at least 128 bits: {first}");
    let second = token(&app, &customer).await;
    assert_ne!(first, second, "every list hands out a new token");

    let charged = debit(&app, "ord1", "100.00", &first).await;
    assert_eq!(charged.status, 200, "{}", charged.body);
    assert_eq!((charged.body["status"].clone(), charged.body["status_id"].clone()), (json!("CHARGED"), json!(21)));
    assert_eq!(charged.body["order_id"], "ord1");
    assert!(charged.body["txn_id"].as_str().unwrap().starts_with("txn_"));
    assert!(charged.body.get("payment").is_none());
    assert_eq!(wallet_amount(&app, &mobile).await, "900.00");

    let pending = debit(&app, "ord2", "5000", &second).await;
    assert_eq!(pending.status, 200, "{}", pending.body);
    assert_eq!((pending.body["status"].clone(), pending.body["status_id"].clone()), (json!("PENDING_VBV"), json!(23)));
    let authentication = &pending.body["payment"]["authentication"];
    assert_eq!(authentication["method"], "GET");
    assert!(authentication.get("params").is_none(), "params only for POST");
    let url = authentication["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&app.url), "{url} is on this API");
    assert_eq!(wallet_amount(&app, &mobile).await, "900.00", "nothing debited yet");

    // The customer's browser opens the top-up page: no API key.
    let topped = app.http.get(&url).send().await.unwrap();
    assert_eq!(topped.status(), 200);
    let topped: Value = topped.json().await.unwrap();
    assert_eq!(topped["status"], "CHARGED");
    let order = app.send("GET", "/orders/ord2", None).await;
    assert_eq!(
        (order.status, order.body["status"].clone(), order.body["status_id"].clone()),
        (200, json!("CHARGED"), json!(21))
    );
    assert!(app.get_text("/orders/ord2").await.contains(r#""amount":5000.00,"currency":"INR""#), "exact, two decimals");
    assert_eq!(wallet_amount(&app, &mobile).await, "900.00", "topped up by 5000, then debited 5000");
    // Visiting the page again changes nothing.
    let again: Value = app.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(again["status"], "CHARGED");
    assert_eq!(wallet_amount(&app, &mobile).await, "900.00");

    let refreshed = app.send("GET", &format!("{base}/refresh-balances"), None).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let account = &refreshed.body["list"][0];
    assert_eq!((account["current_balance"].clone(), account["refreshed"].clone()), (json!("900.00"), json!(true)));
    assert!(account["token"].as_str().is_some());

    let delinked = app.send("POST", &format!("{base}/{id}"), Some(&json!({"command": "delink"}))).await;
    assert_eq!((delinked.status, delinked.body["linked"].clone()), (200, json!(false)));
    let list = app.send("GET", &base, None).await;
    assert!(list.body["list"][0].get("token").is_none(), "no token for an account no longer linked");
}

#[tokio::test]
async fn thirty_two_concurrent_debits_with_one_token_debit_exactly_once() {
    let app = TestApp::spawn_with(AppOptions::default().instances(4)).await;
    let (customer, mobile) = (customer(), mobile());
    linked_account(&app, &customer, &mobile).await;
    let token = token(&app, &customer).await;
    let answers = futures_util::future::join_all((0..32).map(|i| {
        let (app, token) = (&app, token.clone());
        async move { debit(app, &format!("race{i}"), "10", &token).await }
    }))
    .await;
    let charged: Vec<_> = answers.iter().filter(|a| a.status == 200 && a.body["status"] == "CHARGED").collect();
    assert_eq!(charged.len(), 1, "{:?}", answers.iter().map(|a| (a.status, a.body.clone())).collect::<Vec<_>>());
    for answer in answers.iter().filter(|a| a.status != 200) {
        assert!(
            answer.status == 400 && answer.body["status"] == "JUSPAY_DECLINED" || answer.status == 429,
            "{} {}",
            answer.status,
            answer.body
        );
    }
    assert_eq!(wallet_amount(&app, &mobile).await, "990.00");
}

#[tokio::test]
async fn used_foreign_and_delinked_tokens_are_declined_and_debit_nothing() {
    let app = TestApp::spawn().await;
    let (alice, bob, mobile) = (customer(), customer(), mobile());
    let alice_wallet = linked_account(&app, &alice, &mobile).await;
    linked_account(&app, &bob, &format!("8{}", &mobile[1..])).await;

    let declined = |answer: &Answer| {
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(answer.body["status"], "JUSPAY_DECLINED");
        assert_eq!(answer.body["status_id"], 22);
        for field in ["error_message", "error_code", "error_info"] {
            assert!(answer.body.get(field).is_some(), "Juspay's error shape: {field} in {}", answer.body);
        }
    };

    // Used twice.
    let token = token(&app, &alice).await;
    assert_eq!(debit(&app, "once1", "1", &token).await.status, 200);
    declined(&debit(&app, "once2", "1", &token).await);

    // Another customer's: the debit names the customer.
    let alices = self::token(&app, &alice).await;
    let mut body = debit_body(&app.project, "foreign1", "1", &alices);
    body["customer_id"] = json!(bob);
    declined(&app.send("POST", "/txns", Some(&body)).await);

    // Another project's key: the token does not exist there.
    let other_project = pocketbook_tests::app::unique("other");
    let other_key = app.new_api_key(&other_project, &["read", "write"]).await;
    let auth = format!("Bearer {other_key}");
    declined(
        &app.send_as(
            "POST",
            "/txns",
            Some(&debit_body(&other_project, "foreign2", "1", &alices)),
            &[("authorization", &auth)],
        )
        .await,
    );
    // ... and this project's merchant id is not that project's: not found.
    let foreign = app
        .send_as(
            "POST",
            "/txns",
            Some(&debit_body(&app.project, "foreign3", "1", &alices)),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!((foreign.status, foreign.body["status"].clone()), (404, json!("NOT_FOUND")), "{}", foreign.body);
    // ... nor do the customer's accounts or orders.
    let other = app
        .send_as(
            "POST",
            &format!("/customers/{alice}/wallets/{alice_wallet}"),
            Some(&json!({"command": "refresh"})),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(other.status, 404, "{}", other.body);
    assert_eq!(app.send_as("GET", "/orders/once1", None, &[("authorization", &auth)]).await.status, 404);

    // A made-up token, and one of a delinked account.
    declined(&debit(&app, "madeup", "1", "tok_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").await);
    declined(&debit(&app, "garbage", "1", "not-a-token").await);
    let delinked = app
        .send("POST", &format!("/customers/{alice}/wallets/{alice_wallet}"), Some(&json!({"command": "delink"})))
        .await;
    assert_eq!(delinked.status, 200);
    declined(&debit(&app, "delinked", "1", &alices).await);
    // Linking again does not revive tokens issued before the delink.
    let relinked = app
        .send(
            "POST",
            &format!("/customers/{alice}/wallets/{alice_wallet}"),
            Some(&json!({"command": "link", "otp": &mobile[4..]})),
        )
        .await;
    assert_eq!(relinked.status, 200, "{}", relinked.body);
    declined(&debit(&app, "relinked", "1", &alices).await);

    assert_eq!(wallet_amount(&app, &mobile).await, "999.00", "only the first debit happened");
    // Nor can a key made for the sandbox's own project reach its wallets.
    let sandbox_key = app.new_api_key(sandbox::PROJECT, &["read", "write"]).await;
    let wallet_id = sandbox::wallet_balance_id(Gateway::Mobikwik, &MobileNumber::parse(&mobile).unwrap());
    let reached = app
        .send_as("GET", &format!("/balances/{wallet_id}"), None, &[("authorization", &format!("Bearer {sandbox_key}"))])
        .await;
    assert_eq!(reached.status, 401, "{}", reached.body);
    // A token is never in a log line.
    for function in ["list-wallet-accounts", "direct-debit"] {
        let logs = app.function(function).log_lines_containing("tok_");
        assert!(logs.is_empty(), "{function} logged a token: {logs:?}");
    }
}

#[tokio::test]
async fn the_same_order_id_debits_once_in_sequence_and_concurrently() {
    let app = TestApp::spawn_with(AppOptions::default().instances(4)).await;
    let (customer, mobile) = (customer(), mobile());
    linked_account(&app, &customer, &mobile).await;

    let order = order_id();
    let first = debit(&app, &order, "25", &token(&app, &customer).await).await;
    let second = debit(&app, &order, "25", &token(&app, &customer).await).await;
    assert_eq!((first.status, second.status), (200, 200), "{} {}", first.body, second.body);
    assert_eq!(first.body["txn_id"], second.body["txn_id"]);
    assert_eq!(second.body["status"], "CHARGED");
    assert_eq!(wallet_amount(&app, &mobile).await, "975.00");

    let order = order_id();
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(token(&app, &customer).await);
    }
    let answers = futures_util::future::join_all(tokens.iter().map(|t| debit(&app, &order, "25", t))).await;
    let txns: HashSet<_> = answers.iter().filter(|a| a.status == 200).map(|a| a.body["txn_id"].clone()).collect();
    assert_eq!(txns.len(), 1, "{:?}", answers.iter().map(|a| (a.status, a.body.clone())).collect::<Vec<_>>());
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 429), "only a busy wallet may refuse");
    assert_eq!(wallet_amount(&app, &mobile).await, "950.00");
}

#[tokio::test]
async fn juspay_clients_debit_with_a_form_body_and_the_key_as_basic_username() {
    let app = TestApp::spawn().await;
    let (customer, mobile) = (customer(), mobile());
    linked_account(&app, &customer, &mobile).await;
    let token = token(&app, &customer).await;
    let form = format!(
        "order_id=form1&merchant_id={}&amount=12.5&payment_method_type=WALLET&payment_method=MOBIKWIK\
         &direct_wallet_token={token}&redirect_after_payment=False&format=json&customer_id={customer}",
        app.project
    );
    let answer = app.post_form_as_juspay("/txns", form).await;
    assert_eq!((answer.status, answer.body["status"].clone()), (200, json!("CHARGED")), "{}", answer.body);
    assert_eq!(wallet_amount(&app, &mobile).await, "987.50");

    // Debits need the write scope.
    let reader = app.new_api_key(&app.project, &["read"]).await;
    let refused = app
        .send_as(
            "POST",
            "/txns",
            Some(&debit_body(&app.project, "form2", "1", &token)),
            &[("authorization", &format!("Bearer {reader}"))],
        )
        .await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn one_account_per_gateway_and_the_same_number_finds_it_again() {
    let app = TestApp::spawn().await;
    let (customer, mobile) = (customer(), mobile());
    let base = format!("/customers/{customer}/wallets");
    let body = |mobile: &str| json!({"gateway": "PAYTM", "command": "authenticate", "mobile_number": mobile});
    let first = app.send("POST", &base, Some(&body(&mobile))).await;
    let again = app.send("POST", &base, Some(&body(&mobile))).await;
    assert_eq!((first.status, again.status), (201, 200));
    assert_eq!(first.body["id"], again.body["id"]);
    let other = app.send("POST", &base, Some(&body(&format!("7{}", &mobile[1..])))).await;
    assert_eq!((other.status, other.error_code()), (409, Some("WALLET_ACCOUNT_EXISTS")));
    for bad in [
        json!({"gateway": "VISA", "command": "authenticate", "mobile_number": mobile}),
        json!({"gateway": "PAYTM", "command": "authenticate", "mobile_number": "12"}),
    ] {
        let answer = app.send("POST", &base, Some(&bad)).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
    }
}

fn calls(app: &TestApp, function: &str, answer: &Answer) -> u64 {
    assert!(answer.status < 300, "{function}: {} {}", answer.status, answer.body);
    app.round_trips(function, answer)
}

#[tokio::test]
async fn round_trips_per_wallet_action() {
    let app = TestApp::spawn().await;
    let (customer, mobile) = (customer(), mobile());
    // Warm every function (each looks the API key up once).
    let id = linked_account(&app, &customer, &mobile).await;
    let base = format!("/customers/{customer}/wallets");
    debit(&app, "warm1", "1", &token(&app, &customer).await).await;
    app.send("GET", "/orders/warm1", None).await;
    app.send("GET", &format!("{base}/refresh-balances"), None).await;

    let created = app
        .send("POST", &base, Some(&json!({"gateway": "PAYTM", "command": "authenticate", "mobile_number": mobile})))
        .await;
    println!("create-wallet-account: {}", calls(&app, "create-wallet-account", &created));
    assert_eq!(calls(&app, "create-wallet-account", &created), 1);
    let command = app.send("POST", &format!("{base}/{id}"), Some(&json!({"command": "authenticate"}))).await;
    assert_eq!(calls(&app, "wallet-account-command", &command), 1);
    let refresh = app.send("POST", &format!("{base}/{id}"), Some(&json!({"command": "refresh"}))).await;
    assert_eq!(calls(&app, "wallet-account-command", &refresh), 3, "Query, the sandbox's read, Put");
    let list = app.send("GET", &base, None).await;
    assert_eq!(calls(&app, "list-wallet-accounts", &list), 2, "Query, tokens");
    let refreshed = app.send("GET", &format!("{base}/refresh-balances"), None).await;
    assert_eq!(calls(&app, "refresh-wallet-accounts", &refreshed), 3, "Query, one sandbox read, tokens + balances");
    let token = list.body["list"][0]["token"].as_str().unwrap().to_owned();
    let charged = debit(&app, "rt1", "1", &token).await;
    assert_eq!(calls(&app, "direct-debit", &charged), 3, "BatchGetItem, lock, commit with the claim");
    let repeated = debit(&app, "rt1", "1", &token).await;
    assert_eq!(calls(&app, "direct-debit", &repeated), 1, "the order answers from the BatchGetItem");
    let token = self::token(&app, &customer).await;
    let pending = debit(&app, "rt2", "100000", &token).await;
    assert_eq!(pending.body["status"], "PENDING_VBV");
    assert_eq!(calls(&app, "direct-debit", &pending), 4, "BatchGetItem, lock, release, claim");
    let order = app.send("GET", "/orders/rt2", None).await;
    assert_eq!(calls(&app, "get-order", &order), 1);
}
