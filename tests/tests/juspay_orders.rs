//! Juspay's orders, customers and refunds through the real function binaries: round trips,
//! the debit's amount rules, refunds (sandbox and HTTP provider), concurrent refunds.

use pocketbook_tests::fake_provider::FakeProvider;
use pocketbook_tests::{Answer, AppOptions, TestApp};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

fn mobile() -> String {
    format!("98{:08}", rand_digits())
}

fn rand_digits() -> u32 {
    (uuid::Uuid::new_v4().as_u128() % 100_000_000) as u32
}

fn unique(prefix: &str) -> String {
    pocketbook_tests::app::unique(prefix).replace('-', "")
}

/// A customer with a linked account at `gateway`: (customer id, wallet id).
async fn linked(app: &TestApp, gateway: &str, mobile: &str) -> (String, String) {
    let reference = unique("ref");
    let customer =
        app.send("POST", "/customers", Some(&json!({"object_reference_id": reference, "mobile_number": mobile}))).await;
    assert_eq!(customer.status, 200, "{}", customer.body);
    let customer = customer.body["id"].as_str().unwrap().to_owned();
    let created = app.send("POST", &format!("/customers/{customer}/wallets"), Some(&json!({"gateway": gateway}))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let wallet = created.body["id"].as_str().unwrap().to_owned();
    let otp = &mobile[mobile.len() - 6..];
    let link = app.send("POST", &format!("/wallets/{wallet}"), Some(&json!({"command": "link", "otp": otp}))).await;
    assert_eq!((link.status, link.body["linked"].clone()), (200, json!(true)), "{}", link.body);
    (customer, wallet)
}

async fn token(app: &TestApp, customer: &str) -> String {
    let list = app.send("GET", &format!("/customers/{customer}/wallets"), None).await;
    list.body["list"][0]["token"].as_str().expect("a token").to_owned()
}

async fn pay(app: &TestApp, order: &str, gateway: &str, token: &str, amount: Option<&str>) -> Answer {
    let mut body = json!({"order_id": order, "merchant_id": app.project, "payment_method_type": "WALLET",
                          "payment_method": gateway, "direct_wallet_token": token, "redirect_after_payment": "True"});
    if let Some(amount) = amount {
        body["amount"] = json!(amount);
    }
    app.send("POST", "/txns", Some(&body)).await
}

async fn refund(app: &TestApp, order: &str, request: &str, amount: &str) -> Answer {
    let body = json!({"unique_request_id": request, "amount": amount});
    app.send("POST", &format!("/orders/{order}/refunds"), Some(&body)).await
}

fn calls(app: &TestApp, function: &str, answer: &Answer) -> u64 {
    assert!(answer.status < 300, "{function}: {} {}", answer.status, answer.body);
    app.round_trips(function, answer)
}

/// The sandbox wallet's balance, as the provider reports it.
async fn balance(app: &TestApp, wallet: &str) -> String {
    let refreshed = app.send("GET", &format!("/wallets/{wallet}?command=refresh"), None).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    refreshed.body["current_balance"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn orders_created_first_are_paid_at_their_amount_and_refunded_up_to_it() {
    let app = TestApp::spawn().await;
    let (customer, wallet) = linked(&app, "MOBIKWIK", &mobile()).await;
    let order = unique("o");
    let form = format!("order_id={order}&amount=100.00&currency=INR&customer_id={customer}&udf1=a%20b&metadata.k=v");
    let created = app.post_form_as_juspay("/order/create", form).await;
    assert_eq!(
        (created.status, created.body["status"].clone(), created.body["status_id"].clone()),
        (200, json!("CREATED"), json!(1))
    );
    assert_eq!((created.body["udf1"].clone(), created.body["metadata"]["k"].clone()), (json!("a b"), json!("v")));

    // Another amount on the debit than the order's: refused; none at all: the order's.
    let mismatch = pay(&app, &order, "MOBIKWIK", &token(&app, &customer).await, Some("99")).await;
    assert_eq!((mismatch.status, mismatch.body["field"].clone()), (400, json!("amount")), "{}", mismatch.body);
    let charged = pay(&app, &order, "MOBIKWIK", &token(&app, &customer).await, None).await;
    assert_eq!((charged.status, charged.body["status"].clone()), (200, json!("CHARGED")), "{}", charged.body);
    assert_eq!(balance(&app, &wallet).await, "900.00");

    // After payment the amount is fixed.
    let late = app.send("POST", &format!("/orders/{order}"), Some(&json!({"amount": "1"}))).await;
    assert_eq!((late.status, late.body["status"].clone()), (400, json!("invalid_request_error")), "{}", late.body);

    let part = refund(&app, &order, "r1", "30").await;
    assert_eq!(
        (part.status, part.body["amount_refunded"].clone(), part.body["refunded"].clone()),
        (200, json!(30.00), json!(false))
    );
    let again = refund(&app, &order, "r1", "30").await;
    assert_eq!(again.body["refunds"].as_array().unwrap().len(), 1, "the same request refunds once");
    let reused = refund(&app, &order, "r1", "31").await;
    assert_eq!(reused.status, 400, "{}", reused.body);
    let too_much = refund(&app, &order, "r2", "70.01").await;
    assert_eq!(too_much.status, 400, "{}", too_much.body);
    let rest = refund(&app, &order, "r2", "70").await;
    assert_eq!((rest.body["refunded"].clone(), rest.body["status"].clone()), (json!(true), json!("CHARGED")));
    assert_eq!(balance(&app, &wallet).await, "1000.00", "every refund went back to the wallet");

    // Without an order first, the debit needs its amount (today's flow).
    let fresh = unique("f");
    let missing = pay(&app, &fresh, "MOBIKWIK", &token(&app, &customer).await, None).await;
    assert_eq!((missing.status, missing.body["field"].clone()), (400, json!("amount")), "{}", missing.body);
    let paid = pay(&app, &fresh, "MOBIKWIK", &token(&app, &customer).await, Some("5")).await;
    assert_eq!(paid.body["status"], "CHARGED", "{}", paid.body);
    let listed = app.send("GET", "/orders?count=10", None).await;
    assert_eq!(listed.body["total"], 2, "{}", listed.body);
    assert_eq!(listed.body["list"][0]["order_id"], fresh, "newest first");
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_charge_and_the_same_request_refunds_once() {
    let app = TestApp::spawn_with(AppOptions::default().instances(2)).await;
    let (customer, wallet) = linked(&app, "PAYTM", &mobile()).await;
    let order = unique("c");
    assert_eq!(pay(&app, &order, "PAYTM", &token(&app, &customer).await, Some("100")).await.body["status"], "CHARGED");

    // Two different requests that do not both fit: one wins, whatever the order.
    let (a, b) = tokio::join!(refund(&app, &order, "a", "60"), refund(&app, &order, "b", "60"));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{} / {}", a.body, b.body);
    // The same request twice at once: one refund.
    let (c, d) = tokio::join!(refund(&app, &order, "c", "40"), refund(&app, &order, "c", "40"));
    assert_eq!((c.status, d.status), (200, 200), "{} / {}", c.body, d.body);
    let status = app.send("GET", &format!("/orders/{order}"), None).await;
    assert_eq!(status.body["amount_refunded"], json!(100.00), "{}", status.body);
    assert_eq!(status.body["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(balance(&app, &wallet).await, "1000.00", "credited exactly what was refunded");
}

#[tokio::test]
async fn refunds_of_an_http_providers_payment_go_back_to_its_wallet_once() {
    let provider = FakeProvider::start().await;
    let mut options = AppOptions::default();
    for (key, value) in provider.env_for("PAYTM") {
        options = options.env(&key, &value);
    }
    let app = TestApp::spawn_with(options).await;
    let number = mobile();
    provider.set_balance(&number, Decimal::from_str("50.00").unwrap());
    let (customer, _) = linked(&app, "PAYTM", &number).await;
    let order = unique("h");
    let charged = pay(&app, &order, "PAYTM", &token(&app, &customer).await, Some("20")).await;
    assert_eq!(charged.body["status"], "CHARGED", "{}", charged.body);
    assert_eq!(provider.balance(&number), Some(Decimal::from(30)));
    let refunded = refund(&app, &order, "h1", "15").await;
    assert_eq!(refunded.body["refunds"][0]["status"], "SUCCESS", "{}", refunded.body);
    let again = refund(&app, &order, "h1", "15").await;
    assert_eq!(again.status, 200);
    assert_eq!(provider.balance(&number), Some(Decimal::from(45)), "refunded once");
    let sent = provider.requests_to("/refunds");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].idempotency_key(), refunded.body["refunds"][0]["id"].as_str());
}

#[tokio::test]
async fn round_trips_per_juspay_call() {
    let app = TestApp::spawn().await;
    let number = mobile();
    let (customer, wallet) = linked(&app, "MOBIKWIK", &number).await;
    // Warm every function (each looks the API key up once).
    let warm = unique("w");
    app.send("POST", "/orders", Some(&json!({"order_id": warm, "amount": "1"}))).await;
    app.send("GET", &format!("/orders/{warm}"), None).await;
    app.send("POST", &format!("/orders/{warm}"), Some(&json!({"amount": "2"}))).await;
    app.send("GET", &format!("/customers/{customer}"), None).await;
    app.send("POST", &format!("/wallets/{wallet}"), Some(&json!({"command": "authenticate"}))).await;
    let paid = unique("p");
    pay(&app, &paid, "MOBIKWIK", &token(&app, &customer).await, Some("10")).await;
    refund(&app, &paid, "warm", "1").await;

    let reference = unique("ref");
    let created =
        app.send("POST", "/customers", Some(&json!({"object_reference_id": reference, "mobile_number": number}))).await;
    assert_eq!(calls(&app, "create-customer", &created), 1, "one transaction");
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(calls(&app, "get-customer", &app.send("GET", &format!("/customers/{id}"), None).await), 1);
    let by_reference = app.send("GET", &format!("/customers/{reference}"), None).await;
    assert_eq!(calls(&app, "get-customer", &by_reference), 2, "the reference's index, then the customer");

    let order = unique("r");
    let created = app.send("POST", "/orders", Some(&json!({"order_id": order, "amount": "10"}))).await;
    assert_eq!(calls(&app, "create-order", &created), 1, "one transaction: the order and its place in the list");
    let status = app.send("GET", &format!("/orders/{order}"), None).await;
    assert_eq!(calls(&app, "get-order", &status), 1);
    let updated = app.send("POST", &format!("/orders/{order}"), Some(&json!({"amount": "12"}))).await;
    assert_eq!(calls(&app, "update-order", &updated), 2, "read, conditional put");
    let command = app.send("POST", &format!("/wallets/{wallet}"), Some(&json!({"command": "authenticate"}))).await;
    assert_eq!(calls(&app, "wallet-account-command", &command), 2, "the id's index, the account");
    let charged = pay(&app, &order, "MOBIKWIK", &token(&app, &customer).await, None).await;
    assert_eq!(calls(&app, "direct-debit", &charged), 3, "BatchGetItem, lock, commit with the claim");
    let refunded = refund(&app, &order, "rt", "5").await;
    let refund_calls = calls(&app, "refund-order", &refunded);
    println!("refund-order on a charged sandbox order: {refund_calls} round trips");
    assert_eq!(refund_calls, 3, "the order, the wallet's lock, one commit of credit and refund");
    let value: Value = refunded.body.clone();
    assert_eq!(value["amount_refunded"], json!(5.00));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_no_route_serves_answers_404_in_its_facades_error_body() {
    let app = TestApp::spawn().await;
    // An unknown Juspay path, and a Juspay path with a method it does not serve.
    for (method, path) in [("GET", "/order/nowhere"), ("DELETE", "/orders/ord1"), ("PUT", "/customers")] {
        let answer = app.send(method, path, None).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.body);
        assert_eq!(answer.body["status"], "NOT_FOUND", "{method} {path}: {}", answer.body);
        assert_eq!(answer.body["status_id"], 40);
        assert_eq!(answer.body["error_code"], "NOT_FOUND");
        assert_eq!(answer.body["error_message"], format!("no route serves {method} {path}"));
    }
    // Beside the balances it is our error body; no key is needed to be told a path is unknown.
    let answer = app.send_as("GET", "/balances/b1/nowhere", None, &[("authorization", "")]).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "NOT_FOUND", "{}", answer.body);
    // It answers from the path alone, with one log line at INFO (no ERROR line per request).
    let log = app.request_log(pocketbook::actions::NOT_FOUND_FUNCTION, &answer.request_id);
    assert_eq!(log["level"], "INFO", "{log}");
    assert_eq!(log["status"], 404, "{log}");
}
