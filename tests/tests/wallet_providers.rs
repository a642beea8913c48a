//! Customer wallet accounts on HTTP providers (fake providers on loopback, real sockets),
//! end to end through the real function binaries: refresh with a slow and a failing
//! provider, direct debits, top-ups reported by signed callbacks.

use pocketbook_tests::fake_provider::{Behaviour, FakeProvider};
use pocketbook_tests::{Answer, AppOptions, TestApp};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
use std::time::{Duration, Instant};

fn mobile() -> String {
    format!("9{:09}", rand::random::<u32>() % 1_000_000_000)
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// Creates and links the customer's account at `gateway`; its id.
async fn link(app: &TestApp, customer: &str, gateway: &str, mobile: &str) -> String {
    let created = app
        .send(
            "POST",
            &format!("/customers/{customer}/wallets"),
            Some(&json!({"gateway": gateway, "command": "authenticate", "mobile_number": mobile})),
        )
        .await;
    assert_eq!(created.status, 201, "{gateway}: {}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let otp = &mobile[mobile.len() - 6..];
    let linked = app
        .send("POST", &format!("/customers/{customer}/wallets/{id}"), Some(&json!({"command": "link", "otp": otp})))
        .await;
    assert_eq!(linked.status, 200, "{gateway}: {}", linked.body);
    id
}

/// A provider's callback: no API key, a signature header.
async fn callback(app: &TestApp, body: String, headers: &[(&str, &str)]) -> Answer {
    let mut request = app
        .http
        .post(format!("{}/providers/PAYTM/callbacks", app.url))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    pocketbook_tests::app::into_answer(request.send().await.unwrap()).await
}

fn account<'a>(list: &'a Answer, gateway: &str) -> &'a Value {
    list.body["list"].as_array().unwrap().iter().find(|a| a["wallet"] == gateway).expect(gateway)
}

#[tokio::test]
async fn refresh_answers_within_its_bound_when_one_provider_is_slow_and_one_fails() {
    let (slow, failing, healthy) =
        (FakeProvider::start().await, FakeProvider::start().await, FakeProvider::start().await);
    let mut options = AppOptions::default().env("POCKETBOOK_REFRESH_TIMEOUT_MS", "500");
    for (fake, gateway) in [(&slow, "PAYTM"), (&failing, "FREECHARGE"), (&healthy, "OLAMONEY")] {
        for (key, value) in fake.env_for(gateway) {
            options = options.env(&key, &value);
        }
    }
    let app = TestApp::spawn_with(options).await;
    let (customer, number) = (pocketbook_tests::app::unique("cust"), mobile());
    for fake in [&slow, &failing, &healthy] {
        fake.set_balance(&number, dec("300.00"));
    }
    for gateway in ["MOBIKWIK", "PAYTM", "FREECHARGE", "OLAMONEY"] {
        link(&app, &customer, gateway, &number).await;
    }
    let before = app.send("GET", &format!("/customers/{customer}/wallets"), None).await;
    assert_eq!(account(&before, "PAYTM")["current_balance"], "300.00");

    slow.set_behaviour(Behaviour::Slow(Duration::from_secs(5)));
    failing.set_behaviour(Behaviour::Fail500);
    healthy.set_balance(&number, dec("123.45"));
    let started = Instant::now();
    let refreshed = app.send("GET", &format!("/customers/{customer}/wallets/refresh-balances"), None).await;
    let took = started.elapsed();
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert!(took < Duration::from_millis(2_000), "refresh took {took:?} with a 500 ms bound");

    let olamoney = account(&refreshed, "OLAMONEY");
    assert_eq!((olamoney["refreshed"].clone(), olamoney["current_balance"].clone()), (json!(true), json!("123.45")));
    assert_eq!(account(&refreshed, "MOBIKWIK")["refreshed"], true);
    for gateway in ["PAYTM", "FREECHARGE"] {
        let stale = account(&refreshed, gateway);
        assert_eq!(stale["refreshed"], false, "{gateway}: {stale}");
        assert!(stale["refresh_error"].as_str().is_some_and(|e| !e.is_empty()), "{gateway} says why");
        assert_eq!(stale["current_balance"], "300.00", "{gateway} keeps its last balance");
        assert_eq!(stale["last_refreshed"], account(&before, gateway)["last_refreshed"]);
        assert!(stale["token"].as_str().is_some(), "still linked, still a token");
    }
}

#[tokio::test]
async fn http_provider_debits_pend_for_a_top_up_and_complete_on_a_signed_callback() {
    let provider = FakeProvider::start().await;
    let mut options = AppOptions::default();
    for (key, value) in provider.env_for("PAYTM") {
        options = options.env(&key, &value);
    }
    let app = TestApp::spawn_with(options).await;
    let (customer, number) = (pocketbook_tests::app::unique("cust"), mobile());
    provider.set_balance(&number, dec("50.00"));
    link(&app, &customer, "PAYTM", &number).await;
    let token = || async {
        let list = app.send("GET", &format!("/customers/{customer}/wallets"), None).await;
        list.body["list"][0]["token"].as_str().unwrap().to_owned()
    };
    let debit = |order: &'static str, amount: &'static str, token: String| {
        let app = &app;
        async move {
            let body = json!({"order_id": order, "merchant_id": app.project, "amount": amount, "payment_method_type": "WALLET",
                              "payment_method": "PAYTM", "direct_wallet_token": token});
            app.send("POST", "/txns", Some(&body)).await
        }
    };

    let charged = debit("paytm1", "20", token().await).await;
    assert_eq!((charged.status, charged.body["status"].clone()), (200, json!("CHARGED")), "{}", charged.body);
    assert_eq!(provider.balance(&number), Some(dec("30.00")));

    let pending = debit("paytm2", "100", token().await).await;
    assert_eq!(pending.body["status"], "PENDING_VBV", "{}", pending.body);
    let txn = pending.body["txn_id"].as_str().unwrap().to_owned();
    assert!(pending.body["payment"]["authentication"]["url"].as_str().unwrap().starts_with(&provider.url()));

    let (body, signature) = provider.complete_top_up(&txn, true).expect("the fake knows the top-up");
    let forged = callback(&app, body.clone(), &[("x-provider-signature", "00")]).await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    assert_eq!(app.send("GET", "/orders/paytm2", None).await.body["status"], "PENDING_VBV");
    let reported = callback(&app, body.clone(), &[("x-provider-signature", &signature)]).await;
    assert_eq!((reported.status, reported.body["status"].clone()), (200, json!("CHARGED")), "{}", reported.body);
    let again = callback(&app, body, &[("x-provider-signature", &signature)]).await;
    assert_eq!(again.body["status"], "CHARGED", "a repeated callback changes nothing");
    assert_eq!(app.send("GET", "/orders/paytm2", None).await.body["status"], "CHARGED");

    // A provider that does not answer leaves the order AUTHORIZING; asking again with the
    // same order id drives it on with the same transaction id, and it debits once.
    provider.set_behaviour(Behaviour::Fail500);
    let stuck = debit("paytm3", "5", token().await).await;
    assert_eq!((stuck.status, stuck.body["status"].clone()), (200, json!("AUTHORIZING")), "{}", stuck.body);
    provider.set_behaviour(Behaviour::Normal);
    let resumed = debit("paytm3", "5", token().await).await;
    assert_eq!(
        (resumed.body["status"].clone(), resumed.body["txn_id"].clone()),
        (json!("CHARGED"), stuck.body["txn_id"].clone())
    );
    assert_eq!(provider.balance(&number), Some(dec("25.00")));

    provider.decline_debits(&number, "blocked");
    let refused = debit("paytm4", "1", token().await).await;
    assert_eq!(
        (refused.body["status"].clone(), refused.body["status_id"].clone()),
        (json!("AUTHORIZATION_FAILED"), json!(27))
    );
}
