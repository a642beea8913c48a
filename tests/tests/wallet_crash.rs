//! Direct debits that crash or lose their answer: the debit, the token's use and the order
//! land together or not at all, and a retry with the same order id never debits twice.

use pocketbook::domain::wallet_accounts::{two_decimals, Gateway, MobileNumber};
use pocketbook::services::wallet_accounts::sandbox;
use pocketbook_tests::ddb_proxy::{Fault, FaultRule};
use pocketbook_tests::lambda::InvokeError;
use pocketbook_tests::{AppOptions, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

struct Wallet {
    customer: String,
    mobile: String,
}

async fn linked(app: &TestApp) -> Wallet {
    let customer = pocketbook_tests::app::unique("cust");
    let mobile = format!("9{:09}", rand::random::<u32>() % 1_000_000_000);
    let base = format!("/customers/{customer}/wallets");
    let created = app
        .send("POST", &base, Some(&json!({"gateway": "MOBIKWIK", "command": "authenticate", "mobile_number": mobile})))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let linked =
        app.send("POST", &format!("{base}/{id}"), Some(&json!({"command": "link", "otp": &mobile[4..]}))).await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    Wallet { customer, mobile }
}

impl Wallet {
    async fn token(&self, app: &TestApp) -> String {
        let list = app.send("GET", &format!("/customers/{}/wallets", self.customer), None).await;
        list.body["list"][0]["token"].as_str().unwrap().to_owned()
    }

    async fn amount(&self, app: &TestApp) -> String {
        let id = sandbox::wallet_balance_id(Gateway::Mobikwik, &MobileNumber::parse(&self.mobile).unwrap());
        two_decimals(app.store.read_head(&sandbox::project(), id).await.unwrap().unwrap().balance.amount)
    }
}

fn debit(merchant: &str, order: &str, token: &str) -> Value {
    json!({"order_id": order, "merchant_id": merchant, "amount": "40", "payment_method_type": "WALLET",
           "payment_method": "MOBIKWIK", "direct_wallet_token": token})
}

#[tokio::test]
async fn a_debit_killed_between_lock_and_commit_uses_nothing_and_can_be_retried() {
    let options = AppOptions::default().env("POCKETBOOK_LOCK_LEASE_MS", "800").env("POCKETBOOK_LOCK_WAIT_MS", "100");
    let app = TestApp::spawn_with(options).await;
    let wallet = linked(&app).await;
    let token = wallet.token(&app).await;

    let doomed = app.extra_pool("direct-debit", &[("POCKETBOOK_FAILPOINTS", "after-lock")]).await;
    let mut payload = debit(&app.project, "crash1", &token);
    payload["projectId"] = json!(app.project);
    assert!(matches!(doomed.invoke_json(&payload).await, Err(InvokeError::Crashed { .. })));
    doomed.shutdown().await;
    assert_eq!(app.send("GET", "/orders/crash1", None).await.status, 404, "no order");
    // Within the dead debit's lease the wallet is busy: contention, not a fault.
    let busy = app.send("POST", "/txns", Some(&debit(&app.project, "crash1", &token))).await;
    assert_eq!((busy.status, busy.error_code()), (429, Some("BALANCE_BUSY")), "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));

    tokio::time::sleep(Duration::from_millis(900)).await;
    let retried = app.send("POST", "/txns", Some(&debit(&app.project, "crash1", &token))).await;
    assert_eq!((retried.status, retried.body["status"].clone()), (200, json!("CHARGED")), "the token was not used");
    assert_eq!(wallet.amount(&app).await, "960.00");
}

#[tokio::test]
async fn a_debit_killed_after_its_commit_is_answered_from_the_order_on_retry() {
    let app = TestApp::spawn().await;
    let wallet = linked(&app).await;
    let token = wallet.token(&app).await;

    let doomed = app.extra_pool("direct-debit", &[("POCKETBOOK_FAILPOINTS", "after-commit")]).await;
    let mut payload = debit(&app.project, "crash2", &token);
    payload["projectId"] = json!(app.project);
    assert!(matches!(doomed.invoke_json(&payload).await, Err(InvokeError::Crashed { .. })));
    doomed.shutdown().await;

    let retried = app.send("POST", "/txns", Some(&debit(&app.project, "crash2", &token))).await;
    assert_eq!((retried.status, retried.body["status"].clone()), (200, json!("CHARGED")), "{}", retried.body);
    let other = app.send("POST", "/txns", Some(&debit(&app.project, "crash3", &token))).await;
    assert_eq!(other.body["status"], "JUSPAY_DECLINED", "the crashed debit used the token");
    assert_eq!(wallet.amount(&app).await, "960.00", "debited once");
}

#[tokio::test]
async fn a_lost_commit_answer_is_recognised_and_the_debit_happens_once() {
    let app = TestApp::spawn_with(AppOptions::default().through_proxy()).await;
    let wallet = linked(&app).await;
    let token = wallet.token(&app).await;
    let proxy = app.proxy.as_ref().unwrap();
    for (i, fault) in [Fault::DropResponse, Fault::Respond500].into_iter().enumerate() {
        let token = if i == 0 { token.clone() } else { wallet.token(&app).await };
        proxy.add_fault(FaultRule::once(app.table.clone(), "TransactWriteItems", fault.clone()));
        let order = format!("lost{i}");
        let answer = app.send("POST", "/txns", Some(&debit(&app.project, &order, &token))).await;
        assert_eq!(
            (answer.status, answer.body["status"].clone()),
            (200, json!("CHARGED")),
            "{fault:?}: {}",
            answer.body
        );
        assert_eq!(proxy.pending_faults(&app.table), 0);
    }
    assert_eq!(wallet.amount(&app).await, "920.00", "two debits, each once");
}
