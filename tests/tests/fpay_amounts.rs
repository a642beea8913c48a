//! A movement's `amount` in the forms FPay's SDK writes it (issue 14; tests/clients/FPAY_WIRE.md
//! §5), end to end through the real function binaries: `"10_000 XOF"`, `{"value": 2500,
//! "currency": "XOF"}` and the plain number; a currency that is not the wallets' is a 400 on
//! `amount` and moves nothing; malformed amounts are 400s; and the written form of one amount
//! does not change its idempotency fingerprint.

use pocketbook_tests::{Answer, TestApp};
use serde_json::{json, Value};

async fn post(app: &TestApp, path: &str, body: Value) -> Answer {
    app.send("POST", path, Some(&body)).await
}

async fn post_keyed(app: &TestApp, path: &str, body: &Value, idempotency_key: &str) -> Answer {
    let auth = format!("Bearer {}", app.api_key);
    app.send_as("POST", path, Some(body), &[("authorization", &auth), ("idempotency-key", idempotency_key)]).await
}

/// A new wallet of `balance_type`; its id.
async fn new_wallet(app: &TestApp, name: &str, balance_type: &str) -> String {
    let answer = post(app, "/v1.0/wallets", json!({"name": name, "balanceType": balance_type})).await;
    assert_eq!(answer.status, 201, "POST /v1.0/wallets {name}: {}", answer.body);
    id(&answer.body)
}

/// The wallet a movement's `source` or `destination` (FPay's `Single`) names.
fn wallet_of(side: &Value) -> String {
    assert_eq!(side["_type"], "Single", "{side}");
    side["account"]["identifier"]["value"].as_str().unwrap_or_else(|| panic!("no wallet in {side}")).to_owned()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_owned()
}

/// The wallet's `mainPocket.balance`: `{available, lockedIn, lockedOut}`.
async fn balance(app: &TestApp, wallet: &str) -> Value {
    let answer = app.send("GET", &format!("/v1.0/wallets/{wallet}"), None).await;
    assert_eq!(answer.status, 200, "GET /v1.0/wallets/{wallet}: {}", answer.body);
    answer.body["mainPocket"]["balance"].clone()
}

/// `"key":number` appears in the text exactly so: the number is written exactly.
async fn assert_available_written(app: &TestApp, wallet: &str, number: &str) {
    let text = app.get_text(&format!("/v1.0/wallets/{wallet}")).await;
    let needle = format!("\"available\":{number}");
    let found =
        text.match_indices(&needle).any(|(at, _)| matches!(text[at + needle.len()..].chars().next(), Some(',' | '}')));
    assert!(found, "available is written exactly as {number} in {text}");
}

fn assert_amount_refused(answer: &Answer, context: &str) {
    assert_eq!((answer.status, answer.error_code()), (400, Some("VALIDATION_ERROR")), "{context}: {}", answer.body);
    assert_eq!(answer.body["error"]["field"], "amount", "{context}: {}", answer.body);
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("amount: "), "{context}: {}", answer.body);
}

#[tokio::test]
async fn a_grouped_string_amount_credits_exactly_its_value() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", "XOF").await;

    let deposit = post(&app, "/v1.0/deposits/initiate", json!({"amount": "10_000 XOF", "destination": alice})).await;
    assert_eq!(deposit.status, 201, "{}", deposit.body);
    assert_eq!(
        (deposit.body["amount"].clone(), deposit.body["balanceType"].clone()),
        (json!({"value": 10000, "currency": {"code": "XOF", "unit": "FCFA"}}), json!("XOF"))
    );
    assert_eq!(deposit.body["status"]["_type"], "Successful", "{}", deposit.body);
    assert_eq!(balance(&app, &alice).await, json!({"available": 10000, "lockedIn": 0, "lockedOut": 0}));
    assert_available_written(&app, &alice, "10000").await;

    for (amount, after) in [("1_500.5 XOF", "11500.5"), ("5 XOF", "11505.5"), ("0.00000001 XOF", "11505.50000001")] {
        let answer = post(&app, "/v1.0/deposits/initiate", json!({"amount": amount, "destination": alice})).await;
        assert_eq!(answer.status, 201, "{amount}: {}", answer.body);
        assert_available_written(&app, &alice, after).await;
    }

    // Into the project's main wallet (XOF), as FPay's own example does it.
    let to_main = post(&app, "/v1.0/deposits/initiate", json!({"amount": "10_000 XOF"})).await;
    assert_eq!(to_main.status, 201, "{}", to_main.body);
    let main = wallet_of(&to_main.body["destination"]);
    assert_eq!(balance(&app, &main).await["available"], json!(10000));
}

#[tokio::test]
async fn every_movement_takes_the_string_and_the_object_forms() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", "XOF").await;
    let bob = new_wallet(&app, "Bob", "XOF").await;
    let funded = post(&app, "/v1.0/deposits/initiate", json!({"amount": 10000, "destination": alice})).await;
    assert_eq!(funded.status, 201, "the plain number still works: {}", funded.body);

    let transfer = post(
        &app,
        "/v1.0/transfers/initiate",
        json!({"amount": {"value": 2500, "currency": "XOF"}, "source": alice, "destination": bob}),
    )
    .await;
    assert_eq!(transfer.status, 201, "{}", transfer.body);
    assert_eq!(transfer.body["amount"]["value"], json!(2500));
    assert_eq!(balance(&app, &alice).await, json!({"available": 7500, "lockedIn": 0, "lockedOut": 0}));
    assert_eq!(balance(&app, &bob).await, json!({"available": 2500, "lockedIn": 0, "lockedOut": 0}));

    let deposit = post(
        &app,
        "/v1.0/deposits/initiate",
        json!({"amount": {"value": 0.25, "currency": "XOF"}, "destination": bob}),
    )
    .await;
    assert_eq!(deposit.status, 201, "{}", deposit.body);
    assert_available_written(&app, &bob, "2500.25").await;

    let quasi = post(
        &app,
        "/v1.0/quasi-transfers/initiate",
        json!({"amount": "1_500 XOF", "source": alice, "destination": bob}),
    )
    .await;
    assert_eq!(quasi.status, 201, "{}", quasi.body);
    assert_eq!(quasi.body["amount"]["value"], json!(1500));
    assert_eq!(balance(&app, &alice).await, json!({"available": 6000, "lockedIn": 0, "lockedOut": 1500}));

    let request = post(
        &app,
        "/v1.0/fund-requests",
        json!({"amount": {"currency": "XOF", "value": 700}, "source": alice, "destination": bob}),
    )
    .await;
    assert_eq!(request.status, 201, "{}", request.body);
    assert_eq!(request.body["amount"]["value"], json!(700));
}

#[tokio::test]
async fn another_currency_than_the_wallets_is_refused_and_moves_nothing() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", "XOF").await;
    let bob = new_wallet(&app, "Bob", "XOF").await;
    let euros = new_wallet(&app, "Euros", "EUR").await;
    let funded = post(&app, "/v1.0/deposits/initiate", json!({"amount": "100 XOF", "destination": alice})).await;
    assert_eq!(funded.status, 201, "{}", funded.body);

    let refused = post(&app, "/v1.0/deposits/initiate", json!({"amount": "5 EUR", "destination": alice})).await;
    assert_amount_refused(&refused, "5 EUR into an XOF wallet");
    let message = refused.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("EUR") && message.contains("XOF"), "names both currencies: {message}");
    assert_eq!(
        balance(&app, &alice).await,
        json!({"available": 100, "lockedIn": 0, "lockedOut": 0}),
        "nothing credited"
    );

    let refusals = [
        ("/v1.0/deposits/initiate", json!({"amount": {"value": 5, "currency": "EUR"}, "destination": alice})),
        ("/v1.0/deposits/initiate", json!({"amount": "5 XOF", "destination": euros})),
        ("/v1.0/deposits/initiate", json!({"amount": "5 EUR"})),
        ("/v1.0/transfers/initiate", json!({"amount": "1 EUR", "source": alice, "destination": bob})),
        ("/v1.0/quasi-transfers/initiate", json!({"amount": "1 USD", "source": alice, "destination": bob})),
        (
            "/v1.0/fund-requests",
            json!({"amount": {"value": 1, "currency": "EUR"}, "source": alice, "destination": bob}),
        ),
    ];
    for (path, body) in refusals {
        let answer = post(&app, path, body.clone()).await;
        assert_amount_refused(&answer, &format!("{path} {body}"));
    }
    assert_eq!(balance(&app, &alice).await, json!({"available": 100, "lockedIn": 0, "lockedOut": 0}));
    assert_eq!(balance(&app, &bob).await, json!({"available": 0, "lockedIn": 0, "lockedOut": 0}));
    assert_eq!(balance(&app, &euros).await, json!({"available": 0, "lockedIn": 0, "lockedOut": 0}));

    // Wallets of different types stay the BALANCE_TYPE_MISMATCH they were.
    let mismatch =
        post(&app, "/v1.0/transfers/initiate", json!({"amount": "1 XOF", "source": alice, "destination": euros})).await;
    assert_eq!((mismatch.status, mismatch.error_code()), (422, Some("BALANCE_TYPE_MISMATCH")), "{}", mismatch.body);

    let in_euros = post(&app, "/v1.0/deposits/initiate", json!({"amount": "5 EUR", "destination": euros})).await;
    assert_eq!(in_euros.status, 201, "the wallet's own currency: {}", in_euros.body);
    assert_eq!(in_euros.body["balanceType"], "EUR");
    assert_eq!(in_euros.body["amount"], json!({"value": 5, "currency": {"code": "EUR", "unit": "EUR"}}));
    assert_eq!(balance(&app, &euros).await["available"], json!(5));
}

#[tokio::test]
async fn malformed_amounts_are_400s_on_amount() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", "XOF").await;
    let malformed = [
        json!("10"),
        json!("10_000"),
        json!("10XOF"),
        json!("10  XOF"),
        json!(" 10 XOF"),
        json!("10 XOF "),
        json!("_10 XOF"),
        json!("10_ XOF"),
        json!("1__000 XOF"),
        json!("1_.5 XOF"),
        json!("1.5_0 XOF"),
        json!("1,000 XOF"),
        json!("-5 XOF"),
        json!("+5 XOF"),
        json!("1e3 XOF"),
        json!("05 XOF"),
        json!("1. XOF"),
        json!("5 xof"),
        json!("5 XO"),
        json!("0 XOF"),
        json!("0.123456789 XOF"),
        json!("1_000_000_000_000_000 XOF"),
        json!({"value": "5", "currency": "XOF"}),
        json!({"value": 5}),
        json!({"currency": "XOF"}),
        json!({"value": 5, "currency": "XOF", "unit": "FCFA"}),
        json!({"value": 5, "currency": "xof"}),
        json!({"value": -5, "currency": "XOF"}),
        json!([5]),
        json!(true),
        json!(0),
    ];
    for amount in malformed {
        let answer = post(&app, "/v1.0/deposits/initiate", json!({"amount": amount, "destination": alice})).await;
        assert_amount_refused(&answer, &format!("amount {amount}"));
    }
    let duplicate = format!(r#"{{"amount": {{"value": 5, "value": 6, "currency": "XOF"}}, "destination": "{alice}"}}"#);
    let answer = app.send_raw("POST", "/v1.0/deposits/initiate", duplicate, &[]).await;
    assert_amount_refused(&answer, "a key twice");
    assert_eq!(balance(&app, &alice).await, json!({"available": 0, "lockedIn": 0, "lockedOut": 0}));
}

#[tokio::test]
async fn the_written_form_of_one_amount_does_not_change_its_fingerprint() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", "XOF").await;

    let grouped = json!({"amount": "10_000 XOF", "destination": alice});
    let first = post_keyed(&app, "/v1.0/deposits/initiate", &grouped, "deposit-1").await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    let object = json!({"amount": {"value": 10000.00, "currency": "XOF"}, "destination": alice});
    let again = post_keyed(&app, "/v1.0/deposits/initiate", &object, "deposit-1").await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")), "{}", again.body);
    assert_eq!(again.body, first.body, "the first answer");
    let ungrouped =
        post_keyed(&app, "/v1.0/deposits/initiate", &json!({"amount": "10000 XOF", "destination": alice}), "deposit-1")
            .await;
    assert_eq!(ungrouped.header("idempotent-replayed"), Some("true"), "{}", ungrouped.body);
    assert_eq!(balance(&app, &alice).await["available"], json!(10000), "credited once");

    // Naming no currency is another request: the key is reused with a different body.
    let plain =
        post_keyed(&app, "/v1.0/deposits/initiate", &json!({"amount": 10000, "destination": alice}), "deposit-1").await;
    assert_eq!((plain.status, plain.error_code()), (409, Some("IDEMPOTENCY_KEY_REUSED")), "{}", plain.body);
    let other = post_keyed(
        &app,
        "/v1.0/deposits/initiate",
        &json!({"amount": "10_001 XOF", "destination": alice}),
        "deposit-1",
    )
    .await;
    assert_eq!((other.status, other.error_code()), (409, Some("IDEMPOTENCY_KEY_REUSED")), "{}", other.body);
    assert_eq!(balance(&app, &alice).await["available"], json!(10000));
}
