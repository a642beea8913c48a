//! Movements as FPay's SDK makes and reads them (issue 14; tests/clients/FPAY_WIRE.md §5–6),
//! end to end through the real function binaries: `using` to name the sender and receiver of
//! a quasi-transfer and the asker and payer of a fund request, receive / send answering the
//! Attempt, a deposit from a mobile-money account, `h1`, reading movements by id and foreign
//! id, their lists in FPay's collection, updating their notes, attempts, and the transactions
//! each step leaves (with the wallet's pocket before and after, to the unit).

use pocketbook_tests::gateway::percent_encode as enc;
use pocketbook_tests::{Answer, TestApp};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// An exact amount.
fn d(text: &str) -> Decimal {
    Decimal::from_str_exact(text).expect("an amount")
}

/// A JSON number as the API writes it: exact, whole numbers without a fraction.
fn num(x: Decimal) -> Value {
    serde_json::from_str(&x.normalize().to_string()).expect("a JSON number")
}

/// A wallet's pocket, `{balance, volume}`, as the API writes it.
fn pocket(available: &str, locked_in: &str, locked_out: &str, input: &str, output: &str) -> Value {
    let [available, locked_in, locked_out, input, output] = [available, locked_in, locked_out, input, output].map(d);
    json!({
        "balance": {"available": num(available), "lockedIn": num(locked_in), "lockedOut": num(locked_out)},
        "volume": {"input": num(input), "output": num(output), "total": num(input + output)},
    })
}

async fn post(app: &TestApp, path: &str, body: Value) -> Answer {
    app.send("POST", path, Some(&body)).await
}

/// Creates a movement: 201, its body.
async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let answer = post(app, path, body.clone()).await;
    assert_eq!(answer.status, 201, "POST {path} {body}: {}", answer.body);
    answer.body
}

async fn get(app: &TestApp, path: &str) -> Value {
    let answer = app.send("GET", path, None).await;
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
    answer.body
}

/// A new XOF wallet; its id.
async fn new_wallet(app: &TestApp, name: &str, foreign_id: Option<&str>) -> String {
    let mut body = json!({"name": name});
    if let Some(foreign_id) = foreign_id {
        body["foreignId"] = json!(foreign_id);
    }
    id(&created(app, "/v1.0/wallets", body).await)
}

async fn deposit(app: &TestApp, destination: &str, amount: &str) -> Value {
    created(app, "/v1.0/deposits/initiate", json!({"destination": destination, "amount": num(d(amount))})).await
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_owned()
}

async fn pockets(app: &TestApp, wallet: &str) -> Value {
    get(app, &format!("/v1.0/wallets/{wallet}")).await["mainPocket"].clone()
}

/// The wallet a movement's `source` or `destination` (FPay's `Single`) names; `None` without one.
fn side(movement: &Value, key: &str) -> Option<String> {
    let side = movement.get(key)?;
    assert_eq!(side["_type"], "Single", "{key}: {movement}");
    assert_eq!(side["amount"], movement["amount"], "{key}: {movement}");
    let account = &side["account"];
    if account["provider"]["key"] == "Pocketbook" {
        assert_eq!(account["balanceType"], "AvailableBalance", "{key}: {movement}");
    }
    Some(account["identifier"]["value"].as_str().unwrap_or_else(|| panic!("{key}: {movement}")).to_owned())
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().cloned().collect()
}

fn assert_error(answer: &Answer, status: u16, code: &str, context: &str) {
    assert_eq!((answer.status, answer.error_code()), (status, Some(code)), "{context}: {}", answer.body);
}

fn assert_validation(answer: &Answer, field: &str, context: &str) {
    assert_error(answer, 400, "VALIDATION_ERROR", context);
    assert_eq!(answer.body["error"]["field"], field, "{context}: {}", answer.body);
}

/// A Wallet of the project as a transaction's MoneyAccount names it (its country's name
/// left out: see [`account`]).
fn wallet_account(wallet: &str, pocket: &str) -> Value {
    json!({
        "balanceType": pocket,
        "provider": {"country": {"code": {"alpha2": "CI", "alpha3": "CIV", "numeric": 384}}, "key": "Pocketbook", "name": "Pocketbook"},
        "identifier": {"value": wallet},
    })
}

/// A MoneyAccount without its country's name (the country table's spelling for people, not
/// part of what these tests pin), checked to be there.
fn account(money_account: &Value) -> Value {
    let mut money_account = money_account.clone();
    let country = money_account["provider"]["country"].as_object_mut().expect("a country");
    let name = country.remove("name");
    assert!(name.as_ref().and_then(Value::as_str).is_some_and(|n| !n.is_empty()), "a country name: {name:?}");
    money_account
}

/// A key for another project.
async fn other_project_key(app: &TestApp) -> String {
    app.new_api_key(&pocketbook_tests::app::unique("other"), &["read", "write"]).await
}

async fn send_with_key(app: &TestApp, method: &str, path: &str, body: Option<&Value>, key: &str) -> Answer {
    app.send_as(method, path, body, &[("authorization", &format!("Bearer {key}"))]).await
}

#[tokio::test]
async fn a_quasi_transfer_named_by_using_reserves_on_the_sender_and_is_received_by_using() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", Some("alice")).await;
    let bob = new_wallet(&app, "Bob", Some("bob")).await;
    let carol = new_wallet(&app, "Carol", None).await;
    deposit(&app, &alice, "100").await;

    // FPay's form: `using` is the sender; nobody receives it yet.
    let body = json!({"amount": "30 XOF", "using": "alice", "h1": "Cadeau", "foreignId": "qt-1"});
    let quasi = created(&app, "/v1.0/quasi-transfers/initiate", body).await;
    assert_eq!(quasi["type"], "QuasiTransfer");
    assert_eq!(quasi["status"]["_type"], "Processing", "{quasi}");
    assert_eq!(quasi["sending"], "NotYetDone");
    assert_eq!(side(&quasi, "source"), Some(alice.clone()), "the sender, named by id");
    assert!(quasi.get("destination").is_none(), "no receiver yet: {quasi}");
    assert!(quasi.get("attempt").is_none() && quasi.get("completedTime").is_none(), "{quasi}");
    assert_eq!(quasi["h1Descriptor"], json!({"fr": "Cadeau", "en": "Cadeau"}), "a string h1 is both");
    assert_eq!(quasi["amount"], json!({"value": 30, "currency": {"code": "XOF", "unit": "FCFA"}}));
    let qt = id(&quasi);
    // Only the sender holds it: its lockedOut; nobody's lockedIn.
    assert_eq!(pockets(&app, &alice).await, pocket("70", "0", "30", "100", "30"));
    for wallet in [&bob, &carol] {
        assert_eq!(pockets(&app, wallet).await, pocket("0", "0", "0", "0", "0"));
    }
    let no_attempt = app.send("GET", &format!("/v1.0/attempts/a-{qt}"), None).await;
    assert_error(&no_attempt, 404, "NOT_FOUND", "a pending quasi-transfer has no attempt yet");

    let receive = format!("/v1.0/quasi-transfers/{qt}/receive");
    let unnamed = app.send("POST", &receive, None).await;
    assert_validation(&unnamed, "using", "receive naming nobody");
    let unnamed = app.send("POST", &receive, Some(&json!({"id": qt}))).await;
    assert_validation(&unnamed, "using", "receive with only the id");
    let other_id =
        app.send("POST", &receive, Some(&json!({"id": uuid::Uuid::new_v4().to_string(), "using": bob}))).await;
    assert_validation(&other_id, "id", "an id that is not the path's");
    let to_itself = app.send("POST", &receive, Some(&json!({"using": alice}))).await;
    assert_validation(&to_itself, "using", "received by its sender");
    let nobody = app.send("POST", &receive, Some(&json!({"using": "nobody"}))).await;
    assert_error(&nobody, 404, "NOT_FOUND", "received by an unknown wallet");
    assert_eq!(pockets(&app, &alice).await, pocket("70", "0", "30", "100", "30"), "no refusal moved anything");

    // FPay's SDK: {"id": <the path's>, "using": <the receiver>}; the answer is the Attempt.
    let attempt = app.send("POST", &receive, Some(&json!({"id": qt, "using": "bob"}))).await;
    assert_eq!(attempt.status, 200, "{}", attempt.body);
    let attempt = attempt.body;
    assert_eq!(
        keys(&attempt),
        ["createdTime", "id", "parentId", "parentType", "status", "url", "validations"].map(String::from).into()
    );
    assert_eq!(attempt["id"], format!("a-{qt}"));
    assert_eq!(attempt["url"], format!("{}/v1.0/attempts/a-{qt}", app.url));
    assert_eq!((attempt["parentType"].as_str(), attempt["parentId"].as_str()), (Some("QuasiTransfer"), Some(&*qt)));
    assert_eq!(
        (attempt["status"].clone(), attempt["validations"].clone()),
        (json!({"_type": "Successful"}), json!([]))
    );
    assert_eq!(get(&app, &format!("/v1.0/attempts/a-{qt}")).await, attempt, "readable by its id");
    assert_eq!(pockets(&app, &alice).await, pocket("70", "0", "0", "100", "30"), "the reservation is gone");
    assert_eq!(pockets(&app, &bob).await, pocket("30", "0", "0", "30", "0"), "received");
    assert_eq!(pockets(&app, &carol).await, pocket("0", "0", "0", "0", "0"));
    let received = get(&app, &format!("/v1.0/quasi-transfers/{qt}")).await;
    assert_eq!(
        (received["status"].clone(), received["sending"].clone()),
        (json!({"_type": "Successful"}), json!("TotallyDone"))
    );
    assert_eq!(side(&received, "destination"), Some(bob.clone()), "the receiver, named by id");
    assert_eq!(received["completedTime"], attempt["createdTime"], "{received}");

    // Receiving again, by the same wallet or naming none: the same attempt, no money.
    for body in [json!({"id": qt, "using": bob}), json!({"using": "bob"}), json!({})] {
        let again = app.send("POST", &receive, Some(&body)).await;
        assert_eq!((again.status, &again.body), (200, &attempt), "{body}");
    }
    let by_carol = app.send("POST", &receive, Some(&json!({"using": carol}))).await;
    assert_error(&by_carol, 409, "ALREADY_RESOLVED", "received already, by another wallet");
    let cancel = app.send("POST", &format!("/v1.0/quasi-transfers/{qt}/cancel"), None).await;
    assert_error(&cancel, 409, "ALREADY_RESOLVED", "cancel after receive");
    assert_eq!(pockets(&app, &bob).await, pocket("30", "0", "0", "30", "0"), "received once");
    assert_eq!(pockets(&app, &carol).await, pocket("0", "0", "0", "0", "0"));

    // Named at creation: the old way (the destination's lockedIn holds it), and `using` at
    // receipt may only repeat that wallet.
    let named =
        created(&app, "/v1.0/quasi-transfers/initiate", json!({"source": alice, "destination": bob, "amount": 10}))
            .await;
    assert_eq!(side(&named, "destination"), Some(bob.clone()));
    assert_eq!(pockets(&app, &bob).await, pocket("30", "10", "0", "30", "0"), "locked in for the receiver");
    let receive = format!("/v1.0/quasi-transfers/{}/receive", id(&named));
    let by_carol = app.send("POST", &receive, Some(&json!({"using": carol}))).await;
    assert_validation(&by_carol, "using", "another wallet than the one named");
    assert_eq!(pockets(&app, &carol).await, pocket("0", "0", "0", "0", "0"));
    let by_bob = app.send("POST", &receive, Some(&json!({"id": id(&named), "using": "bob"}))).await;
    assert_eq!(by_bob.status, 200, "the wallet named: {}", by_bob.body);
    assert_eq!(pockets(&app, &bob).await, pocket("40", "0", "0", "40", "0"));
    assert_eq!(pockets(&app, &alice).await, pocket("60", "0", "0", "100", "40"));

    // `using` and `source` name the same thing: one of them.
    let both =
        post(&app, "/v1.0/quasi-transfers/initiate", json!({"source": alice, "using": alice, "amount": 1})).await;
    assert_validation(&both, "using", "source and using together");
    let both =
        post(&app, "/v1.0/quasi-transfers/initiate", json!({"using": alice, "destination": alice, "amount": 1})).await;
    assert_validation(&both, "destination", "sent to itself");
    let too_much = post(&app, "/v1.0/quasi-transfers/initiate", json!({"using": alice, "amount": 60.01})).await;
    assert_error(&too_much, 422, "INSUFFICIENT_FUNDS", "more than available");
    assert_eq!(pockets(&app, &alice).await, pocket("60", "0", "0", "100", "40"));
}

#[tokio::test]
async fn a_cancelled_quasi_transfer_gives_the_money_back_and_says_it_was_cancelled_by_a_call() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    deposit(&app, &alice, "50").await;
    let quasi = created(&app, "/v1.0/quasi-transfers/initiate", json!({"using": alice, "amount": "20 XOF"})).await;
    let qt = id(&quasi);
    assert_eq!(pockets(&app, &alice).await, pocket("30", "0", "20", "50", "20"));

    // FPay's SDK cancels with no body at all.
    let cancelled = app.send("POST", &format!("/v1.0/quasi-transfers/{qt}/cancel"), None).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let cancelled = cancelled.body;
    assert_eq!(cancelled["id"], qt.as_str());
    assert_eq!(
        cancelled["status"],
        json!({"_type": "Failure", "reason": {"fr": "Annulé", "en": "Cancelled"}, "cancelled": {"afterTimeout": false}})
    );
    assert_eq!(cancelled["sending"], "NotYetDone");
    assert!(cancelled.get("destination").is_none(), "nobody received it: {cancelled}");
    assert!(cancelled.get("completedTime").is_some(), "resolved: {cancelled}");
    assert_eq!(pockets(&app, &alice).await, pocket("50", "0", "0", "70", "20"), "back to available");
    assert_eq!(get(&app, &format!("/v1.0/quasi-transfers/{qt}")).await, cancelled);
    let again = app.send("POST", &format!("/v1.0/quasi-transfers/{qt}/cancel"), Some(&json!({"id": qt}))).await;
    assert_eq!((again.status, &again.body), (200, &cancelled), "cancelling again answers the same");
    let bob = new_wallet(&app, "Bob", None).await;
    let late = app.send("POST", &format!("/v1.0/quasi-transfers/{qt}/receive"), Some(&json!({"using": bob}))).await;
    assert_error(&late, 409, "ALREADY_RESOLVED", "receive after cancel");
    let attempt = app.send("GET", &format!("/v1.0/attempts/a-{qt}"), None).await;
    assert_error(&attempt, 404, "NOT_FOUND", "a cancelled quasi-transfer has no attempt");
    assert_eq!(pockets(&app, &alice).await, pocket("50", "0", "0", "70", "20"), "cancelled once");
    assert_eq!(pockets(&app, &bob).await, pocket("0", "0", "0", "0", "0"));
}

#[tokio::test]
async fn a_fund_request_named_by_using_is_sent_by_the_payer_using_names() {
    let app = TestApp::spawn().await;
    let payer = new_wallet(&app, "Payer", Some("payer")).await;
    let asker = new_wallet(&app, "Asker", Some("asker")).await;
    deposit(&app, &payer, "10").await;

    // `using` is the wallet that asks (the destination); nobody is asked to pay yet.
    let body =
        json!({"amount": {"value": 7, "currency": "XOF"}, "using": "asker", "h1": {"fr": "Facture", "en": "Invoice"}});
    let request = created(&app, "/v1.0/fund-requests", body).await;
    assert_eq!(request["type"], "FundRequest");
    assert_eq!(
        request["status"],
        json!({"_type": "Processing", "reason": {"fr": "En attente du payeur", "en": "Waiting for the payer"}})
    );
    assert_eq!(side(&request, "destination"), Some(asker.clone()));
    assert!(request.get("source").is_none(), "nobody pays yet: {request}");
    assert_eq!(request["h1Descriptor"], json!({"fr": "Facture", "en": "Invoice"}));
    let fr = id(&request);
    assert_eq!(request["securePay"]["purpose"], json!({"_type": "Send"}));
    assert_eq!(request["securePay"]["link"], format!("{}/v1.0/fund-requests/{fr}/send", app.url));
    assert_eq!(pockets(&app, &payer).await, pocket("10", "0", "0", "10", "0"), "asking moves nothing");
    let no_attempt = app.send("GET", &format!("/v1.0/attempts/a-{fr}"), None).await;
    assert_error(&no_attempt, 404, "NOT_FOUND", "a pending fund request has no attempt yet");

    let send = format!("/v1.0/fund-requests/{fr}/send");
    let unnamed = app.send("POST", &send, Some(&json!({"id": fr}))).await;
    assert_validation(&unnamed, "using", "send naming no payer");
    let by_asker = app.send("POST", &send, Some(&json!({"using": asker}))).await;
    assert_validation(&by_asker, "using", "paid by the asker");
    let attempt = app.send("POST", &send, Some(&json!({"id": fr, "using": "payer"}))).await;
    assert_eq!(attempt.status, 200, "{}", attempt.body);
    let attempt = attempt.body;
    assert_eq!(attempt["id"], format!("a-{fr}"));
    assert_eq!((attempt["parentType"].as_str(), attempt["parentId"].as_str()), (Some("FundRequest"), Some(&*fr)));
    assert_eq!(attempt["status"], json!({"_type": "Successful"}));
    assert_eq!(get(&app, &format!("/v1.0/attempts/a-{fr}")).await, attempt);
    assert_eq!(pockets(&app, &payer).await, pocket("3", "0", "0", "10", "7"));
    assert_eq!(pockets(&app, &asker).await, pocket("7", "0", "0", "7", "0"));
    let sent = get(&app, &format!("/v1.0/fund-requests/{fr}")).await;
    assert_eq!(
        (sent["status"].clone(), sent["sending"].clone()),
        (json!({"_type": "Successful"}), json!("TotallyDone"))
    );
    assert_eq!(side(&sent, "source"), Some(payer.clone()), "the payer, named by id");
    let again = app.send("POST", &send, Some(&json!({"id": fr, "using": payer}))).await;
    assert_eq!((again.status, &again.body), (200, &attempt), "sending again: the same attempt, no money");
    assert_eq!(pockets(&app, &payer).await, pocket("3", "0", "0", "10", "7"));

    // A payer who cannot pay: refused, still Processing, sent later.
    let big = created(&app, "/v1.0/fund-requests", json!({"amount": 5, "using": asker})).await;
    let send = format!("/v1.0/fund-requests/{}/send", id(&big));
    let short = app.send("POST", &send, Some(&json!({"using": payer}))).await;
    assert_error(&short, 422, "INSUFFICIENT_FUNDS", "send without the money");
    assert_eq!(get(&app, &format!("/v1.0/fund-requests/{}", id(&big))).await["status"]["_type"], "Processing");
    let cancelled = app.send("POST", &format!("/v1.0/fund-requests/{}/cancel", id(&big)), None).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"]["cancelled"], json!({"afterTimeout": false}));
    assert!(cancelled.body.get("source").is_none(), "nobody paid: {}", cancelled.body);

    let both = post(&app, "/v1.0/fund-requests", json!({"destination": asker, "using": asker, "amount": 1})).await;
    assert_validation(&both, "using", "destination and using together");
    let cancel_using =
        app.send("POST", &format!("/v1.0/fund-requests/{fr}/cancel"), Some(&json!({"using": payer}))).await;
    assert_validation(&cancel_using, "using", "cancel names nobody");
}

#[tokio::test]
async fn a_deposit_from_a_mobile_money_account_names_it_as_its_source() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    // The SDK's own example.
    let body = json!({
        "amount": "10_000 XOF",
        "source": "CI MtnMoney +2250500000000",
        "destination": alice,
        "h1": "Premier Dépôt via API",
        "foreignId": "dep-1",
    });
    let deposit = created(&app, "/v1.0/deposits/initiate", body).await;
    assert_eq!(deposit["status"], json!({"_type": "Successful"}));
    assert_eq!(deposit["sending"], "TotallyDone");
    let source = &deposit["source"];
    assert_eq!(source["_type"], "Single");
    assert_eq!(source["amount"], deposit["amount"]);
    assert_eq!(
        account(&source["account"]),
        json!({
            "balanceType": "AvailableBalance",
            "provider": {"country": {"code": {"alpha2": "CI", "alpha3": "CIV", "numeric": 384}}, "key": "MtnMoney", "name": "MTN Mobile Money"},
            "identifier": {"value": "+2250500000000"},
        })
    );
    assert_eq!(source["account"]["provider"]["country"]["name"], "Côte d'Ivoire", "named right, whatever celes spells");
    assert_eq!(side(&deposit, "destination"), Some(alice.clone()));
    assert_eq!(deposit["h1Descriptor"], json!({"fr": "Premier Dépôt via API", "en": "Premier Dépôt via API"}));
    assert_eq!(deposit["attempt"], json!({"id": format!("a-{}", id(&deposit))}));
    assert_eq!(pockets(&app, &alice).await, pocket("10000", "0", "0", "10000", "0"));
    assert_eq!(get(&app, &format!("/v1.0/deposits/{}", id(&deposit))).await, deposit, "read back the same");

    // Another country and provider.
    let wave = created(&app, "/v1.0/deposits/initiate", json!({"amount": 5, "source": "SN Wave +221770000000"})).await;
    let account = &wave["source"]["account"];
    assert_eq!(
        (account["provider"]["key"].as_str(), account["provider"]["name"].as_str()),
        (Some("Wave"), Some("Wave"))
    );
    assert_eq!(account["provider"]["country"]["code"], json!({"alpha2": "SN", "alpha3": "SEN", "numeric": 686}));
    assert_eq!(account["identifier"]["value"], "+221770000000");

    for source in [
        json!("CI MtnMoney"),
        json!("CI MtnMoney 2250500000000"),
        json!("ci MtnMoney +2250500000000"),
        json!("XX MtnMoney +2250500000000"),
        json!("CIV MtnMoney +2250500000000"),
        json!("CI Mtn-Money +2250500000000"),
        json!(alice),
        json!(""),
        json!(42),
        json!({"value": "+2250500000000"}),
    ] {
        let answer =
            post(&app, "/v1.0/deposits/initiate", json!({"amount": 1, "source": source, "destination": alice})).await;
        assert_validation(&answer, "source", &format!("source {source}"));
    }
    assert_eq!(pockets(&app, &alice).await, pocket("10000", "0", "0", "10000", "0"), "no refused deposit credited");
}

#[tokio::test]
async fn h1_is_a_string_for_both_languages_or_an_object() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    let bob = new_wallet(&app, "Bob", None).await;
    deposit(&app, &alice, "100").await;
    for (h1, expected) in [
        (json!("Loyer"), json!({"fr": "Loyer", "en": "Loyer"})),
        (json!({"fr": "Loyer", "en": "Rent"}), json!({"fr": "Loyer", "en": "Rent"})),
        (json!({"en": "Rent"}), json!({"fr": "Rent", "en": "Rent"})),
        (json!({"fr": "Loyer"}), json!({"fr": "Loyer", "en": "Loyer"})),
        (json!("Épargne 🐷"), json!({"fr": "Épargne 🐷", "en": "Épargne 🐷"})),
    ] {
        let body = json!({"amount": {"value": 1, "currency": "XOF"}, "source": alice, "destination": bob, "h1": h1});
        let transfer = created(&app, "/v1.0/transfers/initiate", body).await;
        assert_eq!(transfer["h1Descriptor"], expected, "{h1}");
    }
    let plain =
        created(&app, "/v1.0/transfers/initiate", json!({"amount": 1, "source": alice, "destination": bob})).await;
    assert!(plain.get("h1Descriptor").is_none(), "no h1, no h1Descriptor: {plain}");
    let null = created(
        &app,
        "/v1.0/transfers/initiate",
        json!({"amount": 1, "source": alice, "destination": bob, "h1": null}),
    )
    .await;
    assert!(null.get("h1Descriptor").is_none(), "null is absent: {null}");
    for h1 in [
        json!(""),
        json!({}),
        json!({"de": "Miete"}),
        json!({"fr": "x", "en": "y", "de": "z"}),
        json!(42),
        json!(["Loyer"]),
        json!("a".repeat(201)),
        json!("bell\u{7}"),
    ] {
        let answer =
            post(&app, "/v1.0/transfers/initiate", json!({"amount": 1, "source": alice, "destination": bob, "h1": h1}))
                .await;
        assert_validation(&answer, "h1", &format!("h1 {h1}"));
    }
    // FPay's PHP form: `origin` for the source, `_type: Unitary`, a fees payer that changes nothing.
    let php =
        json!({"_type": "Unitary", "origin": alice, "destination": bob, "amount": "2 XOF", "feesPayer": "Sender"});
    let transfer = created(&app, "/v1.0/transfers/initiate", php).await;
    assert_eq!(side(&transfer, "source"), Some(alice.clone()));
    let fees = json!({"value": {"fixe": 0, "percent": 0}, "amount": {"value": 0, "currency": {"code": "XOF", "unit": "FCFA"}}});
    assert_eq!(transfer["fees"], fees, "no fees");
    for (body, field) in [
        (json!({"_type": "Multiple", "source": alice, "destination": bob, "amount": 1}), "_type"),
        (json!({"origin": alice, "source": alice, "destination": bob, "amount": 1}), "origin"),
        (json!({"source": alice, "destination": bob, "amount": 1, "feesPayer": "Nobody"}), "feesPayer"),
        (json!({"source": alice, "destination": bob, "amount": 1, "description": 5}), "description"),
        (json!({"source": alice, "destination": bob, "amount": 1, "foreignData": {"a": 1}}), "foreignData"),
    ] {
        let answer = post(&app, "/v1.0/transfers/initiate", body.clone()).await;
        assert_validation(&answer, field, &format!("{body}"));
    }
    assert_eq!(pockets(&app, &alice).await, pocket("91", "0", "0", "100", "9"));
}

#[tokio::test]
async fn a_movement_is_read_by_its_id_or_its_foreign_id_and_a_shared_foreign_id_is_a_409() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    let bob = new_wallet(&app, "Bob", None).await;
    deposit(&app, &alice, "100").await;
    let body = json!({
        "amount": 5,
        "source": alice,
        "destination": bob,
        "foreignId": "rent-2026-11",
        "description": "November",
        "foreignData": "{\"flat\":3}",
    });
    let transfer = created(&app, "/v1.0/transfers/initiate", body).await;
    let transfer_id = id(&transfer);
    assert_eq!(
        (transfer["description"].as_str(), transfer["foreignData"].as_str()),
        (Some("November"), Some("{\"flat\":3}"))
    );
    assert_eq!(get(&app, &format!("/v1.0/transfers/{transfer_id}")).await, transfer, "by id");
    assert_eq!(get(&app, "/v1.0/transfers/rent-2026-11").await, transfer, "by foreign id");

    // Each kind reads its own: the same id under another kind's route is nobody's.
    for kind in ["deposits", "quasi-transfers", "fund-requests"] {
        let answer = app.send("GET", &format!("/v1.0/{kind}/{transfer_id}"), None).await;
        assert_error(&answer, 404, "NOT_FOUND", &format!("a transfer read as {kind}"));
        let answer = app.send("GET", &format!("/v1.0/{kind}/rent-2026-11"), None).await;
        assert_error(&answer, 404, "NOT_FOUND", &format!("a transfer's foreign id read as {kind}"));
    }
    for unknown in [uuid::Uuid::new_v4().to_string(), "no-such-reference".to_owned()] {
        let answer = app.send("GET", &format!("/v1.0/transfers/{unknown}"), None).await;
        assert_error(&answer, 404, "NOT_FOUND", &unknown);
    }
    let other = other_project_key(&app).await;
    for path in [format!("/v1.0/transfers/{transfer_id}"), "/v1.0/transfers/rent-2026-11".to_owned()] {
        let answer = send_with_key(&app, "GET", &path, None, &other).await;
        assert_error(&answer, 404, "NOT_FOUND", &format!("{path} from another project"));
    }

    // A foreign id need not be unique; reading by one that several share names none of them.
    let again = created(
        &app,
        "/v1.0/transfers/initiate",
        json!({"amount": 1, "source": alice, "destination": bob, "foreignId": "rent-2026-11"}),
    )
    .await;
    let shared = app.send("GET", "/v1.0/transfers/rent-2026-11", None).await;
    assert_error(&shared, 409, "AMBIGUOUS_FOREIGN_ID", "two transfers share it");
    assert!(shared.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", shared.body);
    let patch = app.send("PATCH", "/v1.0/transfers/rent-2026-11", Some(&json!({"set": {"description": "x"}}))).await;
    assert_error(&patch, 409, "AMBIGUOUS_FOREIGN_ID", "PATCH by a shared foreign id");
    assert_eq!(get(&app, &format!("/v1.0/transfers/{}", id(&again))).await, again, "each still by its id");
    // Per kind: a deposit with the same foreign id is the only deposit with it.
    let deposited =
        created(&app, "/v1.0/deposits/initiate", json!({"amount": 1, "destination": bob, "foreignId": "rent-2026-11"}))
            .await;
    assert_eq!(get(&app, "/v1.0/deposits/rent-2026-11").await, deposited);
}

/// The pages of a list followed by their `nextPage.queryString`, as FPay's SDK follows them:
/// each page's items' ids.
async fn walk(app: &TestApp, list: &str, first_query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut query = first_query.to_owned();
    loop {
        let page = get(app, &format!("{list}{query}")).await;
        assert_eq!(keys(&page), ["items", "pagination", "url"].map(String::from).into(), "{page}");
        let pagination = &page["pagination"];
        let index = pages.len() as u64 + 1;
        assert_eq!(pagination["currentPage"]["index"], index, "{page}");
        assert!(pagination["startedTime"].is_string(), "{page}");
        let items: Vec<String> = page["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(pagination["nbItemsOnCurrentPage"], items.len(), "{page}");
        assert_eq!(pagination.get("previousPage").is_some(), index > 1, "{page}");
        pages.push(items);
        match pagination.get("nextPage") {
            Some(next) => {
                assert_eq!(next["index"], index + 1, "{page}");
                let next = next["queryString"].as_str().expect("a queryString").to_owned();
                assert!(next.starts_with('?') && next.contains("&page="), "{next}");
                query = next;
            }
            None => return pages,
        }
    }
}

#[tokio::test]
async fn lists_of_movements_page_in_fpays_collection_and_refuse_a_filter() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    let bob = new_wallet(&app, "Bob", None).await;
    deposit(&app, &alice, "100").await;
    let mut made = Vec::new();
    for amount in [1, 2, 3] {
        let transfer =
            created(&app, "/v1.0/transfers/initiate", json!({"amount": amount, "source": alice, "destination": bob}))
                .await;
        made.push(transfer);
    }
    // Creation order: by time, then by id.
    made.sort_by_key(|m| (m["createdTime"]["timestamp"]["milliseconds"].as_i64().unwrap(), id(m)));
    let ids: Vec<String> = made.iter().map(id).collect();

    let pages = walk(&app, "/v1.0/transfers", "?limit=1").await;
    assert_eq!(
        pages,
        ids.iter().map(|id| vec![id.clone()]).collect::<Vec<_>>(),
        "one per page, oldest first, once each"
    );
    let first = get(&app, "/v1.0/transfers?limit=1").await;
    let url = first["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/v1.0/transfers?limit=1", app.url)), "{url}");
    assert_eq!(first["pagination"]["nbItemsPerPage"], 1);
    assert_eq!(first["items"][0], made[0], "an item is the whole Transfer");
    let next = first["pagination"]["nextPage"]["queryString"].as_str().unwrap();
    assert!(next.starts_with("?limit=1&page="), "{next}");
    // Back from the second page.
    let second = get(&app, &format!("/v1.0/transfers{next}")).await;
    let previous = second["pagination"]["previousPage"]["queryString"].as_str().expect("a previous page");
    let back = get(&app, &format!("/v1.0/transfers{previous}")).await;
    assert_eq!(back["items"], first["items"], "the previous page is the first");
    assert_eq!(back["pagination"]["currentPage"]["index"], 1);

    let newest_first = walk(&app, "/v1.0/transfers", &format!("?limit=2&sortBy={}", enc("createdTime:DESC"))).await;
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(newest_first, vec![reversed[..2].to_vec(), reversed[2..].to_vec()]);
    let all = get(&app, "/v1.0/transfers").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3, "25 by default: {all}");
    assert!(all["pagination"].get("nextPage").is_none());
    assert_eq!(all["pagination"]["nbItemsPerPage"], 25);
    // Each kind its own list; one with none is an empty page.
    assert_eq!(walk(&app, "/v1.0/deposits", "").await.concat().len(), 1);
    let none = get(&app, "/v1.0/fund-requests").await;
    assert_eq!((none["items"].clone(), none["pagination"]["nbItemsOnCurrentPage"].clone()), (json!([]), json!(0)));
    let other = other_project_key(&app).await;
    let theirs = send_with_key(&app, "GET", "/v1.0/transfers", None, &other).await;
    assert_eq!((theirs.status, theirs.body["items"].clone()), (200, json!([])), "another project sees none of them");

    for (query, field) in [
        (format!("filter={}", enc("amount.value > 1")), "filter"),
        (format!("filter={}&limit=1", enc("foreignId = 'x'")), "filter"),
        (format!("sortBy={}", enc("amount:ASC")), "sortBy"),
        (format!("sortBy={}", enc("createdTime:UP")), "sortBy"),
        ("limit=0".to_owned(), "limit"),
        ("limit=101".to_owned(), "limit"),
        ("limit=many".to_owned(), "limit"),
        ("page=garbage".to_owned(), "page"),
    ] {
        let answer = app.send("GET", &format!("/v1.0/transfers?{query}"), None).await;
        assert_validation(&answer, field, &query);
    }
    // A page token is for the list it came from.
    let token = next.rsplit_once("&page=").unwrap().1;
    let elsewhere = app.send("GET", &format!("/v1.0/deposits?limit=1&page={token}"), None).await;
    assert_validation(&elsewhere, "page", "a transfers page token on the deposits list");
}

#[tokio::test]
async fn patch_changes_a_movements_notes_and_nothing_else() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    let bob = new_wallet(&app, "Bob", None).await;
    deposit(&app, &alice, "100").await;
    let body = json!({
        "amount": 12.5,
        "source": alice,
        "destination": bob,
        "foreignId": "order-5",
        "h1": "Commande",
        "description": "first try",
        "foreignData": "{\"cart\":1}",
    });
    let transfer = created(&app, "/v1.0/transfers/initiate", body).await;
    let transfer_id = id(&transfer);
    let path = format!("/v1.0/transfers/{transfer_id}");

    // FPay's SDK: {"id": <the path's>, "set": {...}, "remove": [...]}. The functions' clock is
    // the real one: a few milliseconds apart, the update shows in `updatedTime`.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let patch = json!({"id": transfer_id, "set": {"description": "second try", "h1": {"fr": "Commande", "en": "Order"}}, "remove": ["foreignData"]});
    let changed = app.send("PATCH", &path, Some(&patch)).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let changed = changed.body;
    assert_eq!(changed["description"], "second try");
    assert_eq!(changed["h1Descriptor"], json!({"fr": "Commande", "en": "Order"}));
    assert!(changed.get("foreignData").is_none(), "removed: {changed}");
    let ms = |movement: &Value| movement["updatedTime"]["timestamp"]["milliseconds"].as_i64().unwrap_or_default();
    assert!(ms(&changed) > ms(&transfer), "updatedTime moves with the notes: {} after {}", ms(&changed), ms(&transfer));
    for unchanged in [
        "id",
        "url",
        "type",
        "foreignId",
        "amount",
        "source",
        "destination",
        "status",
        "sending",
        "createdTime",
        "completedTime",
        "attempt",
        "creator",
        "fees",
        "balanceType",
    ] {
        assert_eq!(changed[unchanged], transfer[unchanged], "{unchanged}");
    }
    assert_eq!(get(&app, &path).await, changed, "GET shows the change");
    // By foreign id, and Pocketbook's older word `change`.
    let by_reference = app
        .send(
            "PATCH",
            "/v1.0/transfers/order-5",
            Some(&json!({"change": {"foreignData": "{\"cart\":2}"}, "remove": ["h1", "description"]})),
        )
        .await;
    assert_eq!(by_reference.status, 200, "{}", by_reference.body);
    assert_eq!(by_reference.body["foreignData"], "{\"cart\":2}");
    assert!(
        by_reference.body.get("h1Descriptor").is_none() && by_reference.body.get("description").is_none(),
        "{}",
        by_reference.body
    );
    assert_eq!(pockets(&app, &alice).await, pocket("87.5", "0", "0", "100", "12.5"), "no money moved");

    let before = get(&app, &path).await;
    for (body, field) in [
        (json!({}), "set"),
        (json!({"set": {}}), "set"),
        (json!({"remove": []}), "set"),
        (json!({"set": {"colour": "red"}}), "set.colour"),
        (json!({"set": {"amount": 1}}), "set.amount"),
        (json!({"set": {"foreignId": "order-6"}}), "set.foreignId"),
        (json!({"set": {"status": "Failure"}}), "set.status"),
        (json!({"set": {"h1": ""}}), "set.h1"),
        (json!({"set": {"description": 5}}), "set.description"),
        (json!({"remove": ["foreignId"]}), "remove"),
        (json!({"remove": ["amount"]}), "remove"),
        (json!({"remove": "description"}), "remove"),
        (json!({"set": {"description": "x"}, "remove": ["description"]}), "remove"),
        (json!({"set": {"description": "x"}, "change": {"description": "y"}}), "change"),
        (json!({"id": uuid::Uuid::new_v4().to_string(), "set": {"description": "x"}}), "id"),
    ] {
        let answer = app.send("PATCH", &path, Some(&body)).await;
        assert_validation(&answer, field, &format!("PATCH {body}"));
    }
    // A note at the top level instead of under `set`: refused (the field it names is `set`,
    // "nothing to change", before the unknown member is reached).
    let top_level = app.send("PATCH", &path, Some(&json!({"description": "x"}))).await;
    assert_error(&top_level, 400, "VALIDATION_ERROR", "a note outside set");
    assert!(top_level.body["error"]["field"].as_str().is_some_and(|f| !f.is_empty()), "{}", top_level.body);
    assert_eq!(get(&app, &path).await, before, "no refused PATCH changed anything");

    let notes = json!({"set": {"description": "x"}});
    for unknown in [
        format!("/v1.0/transfers/{}", uuid::Uuid::new_v4()),
        "/v1.0/transfers/no-such-order".to_owned(),
        format!("/v1.0/deposits/{transfer_id}"),
    ] {
        let answer = app.send("PATCH", &unknown, Some(&notes)).await;
        assert_error(&answer, 404, "NOT_FOUND", &unknown);
    }
    let other = other_project_key(&app).await;
    let theirs = send_with_key(&app, "PATCH", &path, Some(&notes), &other).await;
    assert_error(&theirs, 404, "NOT_FOUND", "another project's transfer");
    // The pending kinds' notes change the same way.
    let quasi = created(&app, "/v1.0/quasi-transfers/initiate", json!({"using": alice, "amount": 1})).await;
    let changed = app.send("PATCH", &format!("/v1.0/quasi-transfers/{}", id(&quasi)), Some(&notes)).await;
    assert_eq!((changed.status, changed.body["description"].as_str()), (200, Some("x")), "{}", changed.body);
    assert_eq!(changed.body["status"]["_type"], "Processing");
}

#[tokio::test]
async fn every_kind_has_its_attempt_once_it_is_done() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    let bob = new_wallet(&app, "Bob", None).await;
    let deposited = deposit(&app, &alice, "100").await;
    let transfer =
        created(&app, "/v1.0/transfers/initiate", json!({"amount": 1, "source": alice, "destination": bob})).await;
    for (movement, kind) in [(&deposited, "Deposit"), (&transfer, "Transfer")] {
        let attempt_id = movement["attempt"]["id"].as_str().expect("a LightAttempt");
        assert_eq!(attempt_id, format!("a-{}", id(movement)));
        let attempt = get(&app, &format!("/v1.0/attempts/{attempt_id}")).await;
        assert_eq!(
            (attempt["parentType"].as_str(), attempt["parentId"].as_str()),
            (Some(kind), movement["id"].as_str())
        );
        assert_eq!(attempt["status"], json!({"_type": "Successful"}));
        assert_eq!(attempt["createdTime"], movement["createdTime"], "done at its creation");
        assert_eq!(attempt["url"], format!("{}/v1.0/attempts/{attempt_id}", app.url));
    }
    let quasi = created(&app, "/v1.0/quasi-transfers/initiate", json!({"using": alice, "amount": 1})).await;
    let request = created(&app, "/v1.0/fund-requests", json!({"using": bob, "amount": 1})).await;
    for pending in [&quasi, &request] {
        assert!(pending.get("attempt").is_none(), "{pending}");
        let answer = app.send("GET", &format!("/v1.0/attempts/a-{}", id(pending)), None).await;
        assert_error(&answer, 404, "NOT_FOUND", "a pending movement's attempt");
    }
    let received =
        app.send("POST", &format!("/v1.0/quasi-transfers/{}/receive", id(&quasi)), Some(&json!({"using": bob}))).await;
    let sent =
        app.send("POST", &format!("/v1.0/fund-requests/{}/send", id(&request)), Some(&json!({"using": alice}))).await;
    for (answer, movement) in [(&received, &quasi), (&sent, &request)] {
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(get(&app, &format!("/v1.0/attempts/a-{}", id(movement))).await, answer.body);
        // FPay's QuasiTransfer and FundRequest have no `attempt`, even once done.
        assert!(get(&app, &movement["url"].as_str().unwrap()[app.url.len()..]).await.get("attempt").is_none());
    }
    let other = other_project_key(&app).await;
    let theirs = send_with_key(&app, "GET", &format!("/v1.0/attempts/a-{}", id(&deposited)), None, &other).await;
    assert_error(&theirs, 404, "NOT_FOUND", "another project's attempt");
    for bad in [
        id(&deposited),
        format!("a-{}", uuid::Uuid::new_v4()),
        "a-nonsense".to_owned(),
        format!("b-{}", id(&deposited)),
        format!("a-{}", id(&deposited).to_uppercase()),
    ] {
        let answer = app.send("GET", &format!("/v1.0/attempts/{bad}"), None).await;
        assert_error(&answer, 404, "NOT_FOUND", &bad);
    }
}

/// What the test expects of one transaction: its movement, wallet, way, amount, and the
/// wallet's pocket before and after it.
struct Expected {
    parent: String,
    kind: &'static str,
    wallet: String,
    dc: &'static str,
    amount: &'static str,
    source: Value,
    destination: Value,
    before: Value,
    after: Value,
    h1: Value,
}

#[tokio::test]
async fn every_step_that_moves_money_leaves_a_transaction_per_wallet_with_its_pocket_before_and_after() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    let bob = new_wallet(&app, "Bob", None).await;
    let mobile = "CI MtnMoney +2250500000000";
    let deposited =
        created(&app, "/v1.0/deposits/initiate", json!({"amount": 100, "source": mobile, "destination": alice})).await;
    let transfer = created(
        &app,
        "/v1.0/transfers/initiate",
        json!({"amount": 30, "source": alice, "destination": bob, "h1": {"fr": "Loyer", "en": "Rent"}}),
    )
    .await;
    let received = created(&app, "/v1.0/quasi-transfers/initiate", json!({"amount": 20, "using": alice})).await;
    let answer = app
        .send("POST", &format!("/v1.0/quasi-transfers/{}/receive", id(&received)), Some(&json!({"using": bob})))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cancelled = created(&app, "/v1.0/quasi-transfers/initiate", json!({"amount": 10, "using": alice})).await;
    let answer = app.send("POST", &format!("/v1.0/quasi-transfers/{}/cancel", id(&cancelled)), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let request = created(&app, "/v1.0/fund-requests", json!({"amount": 5, "using": bob})).await;
    let answer =
        app.send("POST", &format!("/v1.0/fund-requests/{}/send", id(&request)), Some(&json!({"using": alice}))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // A fund request asked and cancelled moved nothing: no transaction.
    let unpaid = created(&app, "/v1.0/fund-requests", json!({"amount": 5, "using": bob})).await;
    assert_eq!(app.send("POST", &format!("/v1.0/fund-requests/{}/cancel", id(&unpaid)), None).await.status, 200);
    assert_eq!(pockets(&app, &alice).await, pocket("45", "0", "0", "110", "65"));
    assert_eq!(pockets(&app, &bob).await, pocket("55", "0", "0", "55", "0"));

    let available = |w: &str| wallet_account(w, "AvailableBalance");
    let locked_out = |w: &str| wallet_account(w, "LockedOutBalance");
    let h1 = |fr: &str, en: &str| json!({"fr": fr, "en": en});
    let expected = |parent: &Value,
                    wallet: &str,
                    dc,
                    amount,
                    source: Value,
                    destination: Value,
                    before: Value,
                    after: Value,
                    title: Value| Expected {
        parent: id(parent),
        kind: match parent["type"].as_str().unwrap() {
            "Deposit" => "Deposit",
            "Transfer" => "Transfer",
            "QuasiTransfer" => "QuasiTransfer",
            _ => "FundRequest",
        },
        wallet: wallet.to_owned(),
        dc,
        amount,
        source,
        destination,
        before,
        after,
        h1: title,
    };
    let at = |available: &str, locked_out: &str, input: &str, output: &str| {
        pocket(available, "0", locked_out, input, output)
    };
    let expectations = vec![
        expected(
            &deposited,
            &alice,
            "Credit",
            "100",
            account(&deposited["source"]["account"]),
            available(&alice),
            at("0", "0", "0", "0"),
            at("100", "0", "100", "0"),
            h1("Dépôt", "Deposit"),
        ),
        expected(
            &transfer,
            &alice,
            "Debit",
            "30",
            available(&alice),
            available(&bob),
            at("100", "0", "100", "0"),
            at("70", "0", "100", "30"),
            h1("Loyer", "Rent"),
        ),
        expected(
            &transfer,
            &bob,
            "Credit",
            "30",
            available(&alice),
            available(&bob),
            at("0", "0", "0", "0"),
            at("30", "0", "30", "0"),
            h1("Loyer", "Rent"),
        ),
        // A quasi-transfer: reserved on the sender (available to lockedOut), then received
        // from that lockedOut, or given back to available.
        expected(
            &received,
            &alice,
            "Debit",
            "20",
            available(&alice),
            locked_out(&alice),
            at("70", "0", "100", "30"),
            at("50", "20", "100", "50"),
            h1("Quasi-transfert réservé", "Quasi-transfer reserved"),
        ),
        expected(
            &received,
            &bob,
            "Credit",
            "20",
            locked_out(&alice),
            available(&bob),
            at("30", "0", "30", "0"),
            at("50", "0", "50", "0"),
            h1("Quasi-transfert", "Quasi-transfer"),
        ),
        expected(
            &cancelled,
            &alice,
            "Debit",
            "10",
            available(&alice),
            locked_out(&alice),
            at("50", "0", "100", "50"),
            at("40", "10", "100", "60"),
            h1("Quasi-transfert réservé", "Quasi-transfer reserved"),
        ),
        expected(
            &cancelled,
            &alice,
            "Credit",
            "10",
            locked_out(&alice),
            available(&alice),
            at("40", "10", "100", "60"),
            at("50", "0", "110", "60"),
            h1("Quasi-transfert", "Quasi-transfer"),
        ),
        expected(
            &request,
            &alice,
            "Debit",
            "5",
            available(&alice),
            available(&bob),
            at("50", "0", "110", "60"),
            at("45", "0", "110", "65"),
            h1("Demande de fonds payée", "Fund request paid"),
        ),
        expected(
            &request,
            &bob,
            "Credit",
            "5",
            available(&alice),
            available(&bob),
            at("50", "0", "50", "0"),
            at("55", "0", "55", "0"),
            h1("Demande de fonds reçue", "Fund request received"),
        ),
    ];

    let listed = get(&app, "/v1.0/transactions?limit=100").await;
    let items = listed["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), expectations.len(), "one per wallet of each step that moved money: {listed}");
    let ids: BTreeSet<String> = items.iter().map(id).collect();
    assert_eq!(ids.len(), items.len(), "no transaction twice");
    let alice_now = get(&app, &format!("/v1.0/wallets/{alice}")).await;
    let bob_now = get(&app, &format!("/v1.0/wallets/{bob}")).await;
    for want in &expectations {
        let context = format!("{} {} {} {}", want.kind, want.dc, want.amount, want.wallet);
        let found: Vec<&Value> = items
            .iter()
            .filter(|t| {
                t["parent"]["id"] == want.parent.as_str()
                    && t["wallet"]["id"] == want.wallet.as_str()
                    && t["dc"] == want.dc
            })
            .collect();
        assert_eq!(found.len(), 1, "{context}: {listed}");
        let transaction = found[0];
        let transaction_id = id(transaction);
        assert!(transaction_id.contains(&want.parent), "its id names its movement: {transaction_id}");
        assert_eq!(transaction["url"], format!("{}/v1.0/transactions/{transaction_id}", app.url));
        assert_eq!(
            transaction["amount"],
            json!({"value": num(d(want.amount)), "currency": {"code": "XOF", "unit": "FCFA"}}),
            "{context}"
        );
        assert_eq!(transaction["parent"]["_type"], want.kind, "{context}");
        assert_eq!(transaction["status"], json!({"_type": "Successful"}), "{context}");
        assert_eq!(account(&transaction["source"]), want.source, "{context}");
        assert_eq!(account(&transaction["destination"]), want.destination, "{context}");
        let details = if want.kind == "Deposit" { "MobileMoneyTransfer" } else { "FPayTransfer" };
        assert_eq!(transaction["details"], json!({"_type": details}), "{context}");
        assert_eq!(transaction["h1"], want.h1, "{context}");
        assert_eq!(transaction["wallet"]["before"], want.before, "{context}");
        assert_eq!(transaction["wallet"]["after"], want.after, "{context}");
        // The arithmetic, to the unit: available moves by the amount, its way.
        let value = |at: &str, pocket: &str| d(&transaction["wallet"][at]["balance"][pocket].to_string());
        let moved = value("after", "available") - value("before", "available");
        let sign = if want.dc == "Credit" { Decimal::ONE } else { -Decimal::ONE };
        assert_eq!(moved, sign * d(want.amount), "{context}");
        // The wallet as it is now, with the Wallet's keys.
        let now = if want.wallet == alice { &alice_now } else { &bob_now };
        for key in ["id", "url", "name", "mars", "man", "isMain", "creator", "createdTime", "mainPocket", "balanceType"]
        {
            assert_eq!(transaction["wallet"][key], now[key], "{context}: wallet.{key}");
        }
        time_ms(&transaction["createdTime"]);
        // Read alone, the same.
        assert_eq!(&get(&app, &format!("/v1.0/transactions/{transaction_id}")).await, transaction, "{context}");
    }
    // The parent is the movement as it is now, with its `_type`.
    let credit = items.iter().find(|t| t["parent"]["id"] == id(&received).as_str() && t["dc"] == "Credit").unwrap();
    let mut parent = get(&app, &format!("/v1.0/quasi-transfers/{}", id(&received))).await;
    parent["_type"] = json!("QuasiTransfer");
    assert_eq!(credit["parent"], parent);

    // Oldest first, pages of 2 followed by their queryString, once each; newest first the reverse.
    let ascending: Vec<String> = items.iter().map(id).collect();
    let pages = walk(&app, "/v1.0/transactions", "?limit=2").await;
    assert_eq!(pages.len(), 5);
    assert_eq!(pages.concat(), ascending);
    let descending =
        walk(&app, "/v1.0/transactions", &format!("?limit=4&sortBy={}", enc("createdTime:DESC"))).await.concat();
    assert_eq!(descending, ascending.iter().rev().cloned().collect::<Vec<_>>());
    let mut sorted = ascending.clone();
    sorted.sort_by_key(|id| id.split('-').next().unwrap().parse::<i64>().unwrap());
    assert_eq!(sorted, ascending, "in time order");
    let filtered = app.send("GET", &format!("/v1.0/transactions?filter={}", enc("dc = 'Credit'")), None).await;
    assert_validation(&filtered, "filter", "transactions do not filter");
}

fn time_ms(value: &Value) -> i64 {
    let ms = value["timestamp"]["milliseconds"].as_i64().unwrap_or_else(|| panic!("not a time: {value}"));
    assert_eq!(value["timestamp"]["seconds"].as_i64(), Some(ms.div_euclid(1000)), "{value}");
    assert!(value["iso8601"].is_string(), "{value}");
    ms
}

#[tokio::test]
async fn a_transactions_notes_change_and_nothing_else_and_only_its_project_reads_it() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    let deposited =
        created(&app, "/v1.0/deposits/initiate", json!({"amount": 8, "destination": alice, "h1": "Top-up"})).await;
    let listed = get(&app, "/v1.0/transactions").await;
    let transaction = listed["items"][0].clone();
    assert_eq!(transaction["parent"]["id"], deposited["id"]);
    assert!(transaction.get("foreignId").is_none(), "FPay's Transaction has no foreignId: {transaction}");
    let transaction_id = id(&transaction);
    let path = format!("/v1.0/transactions/{transaction_id}");

    let patch = json!({"id": transaction_id, "set": {"description": "for the records", "foreignData": "{\"ledger\":7}", "h1": {"fr": "Recharge", "en": "Top-up"}}});
    let changed = app.send("PATCH", &path, Some(&patch)).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let changed = changed.body;
    assert_eq!(
        (changed["description"].as_str(), changed["foreignData"].as_str()),
        (Some("for the records"), Some("{\"ledger\":7}"))
    );
    assert_eq!(changed["h1"], json!({"fr": "Recharge", "en": "Top-up"}));
    for unchanged in
        ["id", "url", "createdTime", "dc", "amount", "source", "destination", "status", "details", "wallet", "parent"]
    {
        assert_eq!(changed[unchanged], transaction[unchanged], "{unchanged}");
    }
    assert_eq!(get(&app, &path).await, changed);
    assert_eq!(
        get(&app, &format!("/v1.0/deposits/{}", id(&deposited))).await,
        deposited,
        "its movement's notes are its own"
    );
    let removed = app.send("PATCH", &path, Some(&json!({"remove": ["description", "foreignData"]}))).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(removed.body.get("description").is_none() && removed.body.get("foreignData").is_none(), "{}", removed.body);

    // A Transaction's h1 is required: it can be changed, not removed.
    let no_h1 = app.send("PATCH", &path, Some(&json!({"remove": ["h1"]}))).await;
    assert_validation(&no_h1, "remove", "removing a transaction's h1");
    let still = app.send("GET", &path, None).await;
    assert_eq!(
        (still.status, still.body["h1"].clone()),
        (200, json!({"fr": "Recharge", "en": "Top-up"})),
        "{}",
        still.body
    );
    for (body, field) in [
        (json!({"set": {"amount": 1}}), "set.amount"),
        (json!({"set": {"dc": "Debit"}}), "set.dc"),
        (json!({"remove": ["amount"]}), "remove"),
        (json!({"id": "another", "set": {"description": "x"}}), "id"),
        (json!({}), "set"),
    ] {
        let answer = app.send("PATCH", &path, Some(&body)).await;
        assert_validation(&answer, field, &format!("PATCH {body}"));
    }

    // Another project: none of it, by id, in its list, or to change.
    let other = other_project_key(&app).await;
    let theirs = send_with_key(&app, "GET", &path, None, &other).await;
    assert_error(&theirs, 404, "NOT_FOUND", "another project's transaction");
    let theirs = send_with_key(&app, "PATCH", &path, Some(&json!({"set": {"description": "mine"}})), &other).await;
    assert_error(&theirs, 404, "NOT_FOUND", "another project's transaction, PATCH");
    let their_list = send_with_key(&app, "GET", "/v1.0/transactions", None, &other).await;
    assert_eq!((their_list.status, their_list.body["items"].clone()), (200, json!([])), "{}", their_list.body);
    assert_eq!(get(&app, &path).await["description"], Value::Null, "unchanged by them");

    // Ids that name nothing: 404, like another project's.
    let (at, rest) = transaction_id.split_once('-').unwrap();
    let (movement, n) = rest.rsplit_once('-').unwrap();
    for bad in [
        "nonsense".to_owned(),
        "1-2-3".to_owned(),
        format!("{at}-{movement}-9"),
        format!("{}-{movement}-{n}", at.parse::<i64>().unwrap() + 1),
        format!("{at}-{}-{n}", uuid::Uuid::new_v4()),
        format!("{at}-{}-{n}", movement.to_uppercase()),
        movement.to_owned(),
        id(&deposited),
    ] {
        let answer = app.send("GET", &format!("/v1.0/transactions/{bad}"), None).await;
        assert_error(&answer, 404, "NOT_FOUND", &bad);
        let answer =
            app.send("PATCH", &format!("/v1.0/transactions/{bad}"), Some(&json!({"set": {"description": "x"}}))).await;
        assert_error(&answer, 404, "NOT_FOUND", &format!("PATCH {bad}"));
    }
}

#[tokio::test]
async fn a_direct_invocation_names_the_route_of_the_kind_it_reads() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice", None).await;
    let bob = new_wallet(&app, "Bob", None).await;
    deposit(&app, &alice, "50").await;
    let transfer =
        created(&app, "/v1.0/transfers/initiate", json!({"source": alice, "destination": bob, "amount": 5})).await;
    let pool = app.function("get-movement");
    let invoke = |payload: Value| async move { pool.invoke_json(&payload).await.expect("invoke").1 };
    let by_route = invoke(json!({
        "projectId": app.project,
        "route": "/v1.0/transfers/{identifier}",
        "identifier": id(&transfer),
    }))
    .await;
    assert_eq!(by_route["id"], transfer["id"], "{by_route}");
    assert_eq!(by_route["status"], json!({"_type": "Successful"}));
    // Without a route: the function's first, deposits; a transfer is not one.
    let as_deposit = invoke(json!({"projectId": app.project, "identifier": id(&transfer)})).await;
    assert_eq!(as_deposit["error"]["code"], "NOT_FOUND", "{as_deposit}");
    let elsewhere =
        invoke(json!({"projectId": app.project, "route": "/v1.0/wallets/{identifier}", "identifier": alice})).await;
    assert_eq!(elsewhere["error"]["field"], "route", "{elsewhere}");
}
