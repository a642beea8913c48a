//! What the routes refuse to do whatever they are sent: bodies that are not JSON on JSON
//! routes, reads that would write, expiries too far away, page tokens used outside the
//! listing they were made for.

use pocketbook_tests::app::into_answer;
use pocketbook_tests::{Answer, TestApp};
use serde_json::{json, Value};

/// A request with exactly this Content-Type (or none) and body.
async fn typed(app: &TestApp, method: &str, path: &str, content_type: Option<&str>, body: &str) -> Answer {
    let mut request = app
        .http
        .request(method.parse().unwrap(), format!("{}{path}", app.url))
        .header("authorization", format!("Bearer {}", app.api_key))
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    into_answer(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_json_route_takes_json_only_and_juspays_take_their_forms() {
    let app = TestApp::spawn().await;
    let body = r#"{"balanceType": "EUR"}"#;
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/xml")] {
        let answer = typed(&app, "POST", "/balances", content_type, body).await;
        assert_eq!(answer.status, 415, "{content_type:?}: {}", answer.body);
        assert_eq!(answer.body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    }
    for content_type in
        ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]
    {
        let answer = typed(&app, "POST", "/balances", Some(content_type), body).await;
        assert_eq!(answer.status, 201, "{content_type}: {}", answer.body);
    }
    // No body, no type needed.
    assert_eq!(typed(&app, "GET", "/v1.0/wallets", None, "").await.status, 200);
    // FPay's routes are JSON too; Juspay's take forms, as its clients send them.
    let form = typed(&app, "POST", "/v1.0/wallets", Some("application/x-www-form-urlencoded"), "name=Alice").await;
    assert_eq!(form.status, 415, "{}", form.body);
    let juspay = typed(
        &app,
        "POST",
        "/customers",
        Some("application/x-www-form-urlencoded"),
        "object_reference_id=c1&mobile_number=9999999999",
    )
    .await;
    assert_ne!(juspay.status, 415, "{}", juspay.body);
}

async fn wallet_ids(app: &TestApp, key: &str) -> Vec<(String, bool)> {
    let auth = format!("Bearer {key}");
    let listed = app.send_as("GET", "/v1.0/wallets", None, &[("authorization", &auth)]).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().cloned().unwrap_or_default();
    items.iter().map(|w| (w["id"].as_str().unwrap_or_default().to_owned(), w["isMain"] == json!(true))).collect()
}

#[tokio::test]
async fn a_read_only_listing_never_creates_the_main_wallet() {
    let app = TestApp::spawn().await;
    let reader = app.new_api_key(&app.project, &["read"]).await;
    let writer = app.new_api_key(&app.project, &["read", "write"]).await;
    assert_eq!(wallet_ids(&app, &reader).await, Vec::new(), "nothing made by a read");
    assert_eq!(wallet_ids(&app, &reader).await, Vec::new(), "still nothing");
    let made = wallet_ids(&app, &writer).await;
    assert!(made.len() == 1 && made[0].1, "a caller that may write gets the main wallet made: {made:?}");
    assert_eq!(wallet_ids(&app, &reader).await, made, "and a read lists it once it exists");
}

#[tokio::test]
async fn an_expiry_on_a_date_more_than_90_days_away_is_refused() {
    let app = TestApp::spawn().await;
    let day = chrono::Duration::days(1);
    for (days, status) in [(89, 201), (91, 400)] {
        let on = (chrono::Utc::now() + day * days).to_rfc3339();
        let body = json!({"amount": 1, "expire": format!("on {on}")});
        let answer = app.send("POST", "/v1.0/fund-requests", Some(&body)).await;
        assert_eq!(answer.status, status, "{days} days: {}", answer.body);
        if status == 400 {
            assert_eq!(answer.body["error"]["field"], "expire");
        }
    }
}

fn next_token(page: &Value) -> String {
    let query = page["pagination"]["nextPage"]["queryString"].as_str().unwrap_or_default();
    let token =
        query.split('&').find_map(|pair| pair.trim_start_matches('?').strip_prefix("page=")).unwrap_or_default();
    assert!(!token.is_empty(), "a next page: {page}");
    token.to_owned()
}

#[tokio::test]
async fn a_page_token_opens_only_in_the_listing_it_was_made_for() {
    let app = TestApp::spawn().await;
    for name in ["a", "b", "c"] {
        assert_eq!(app.send("POST", "/v1.0/wallets", Some(&json!({"name": name}))).await.status, 201);
        assert_eq!(app.send("POST", "/v1.0/deposits/initiate", Some(&json!({"amount": 1}))).await.status, 201);
    }
    let wallets = app.send("GET", "/v1.0/wallets?limit=1", None).await.body;
    let token = next_token(&wallets);
    assert_eq!(app.send("GET", &format!("/v1.0/wallets?limit=1&page={token}"), None).await.status, 200);
    // Another query, another route, another project: the same 400 as a tampered token.
    let other_key = app.new_api_key("another-project", &["read", "write"]).await;
    let auth = format!("Bearer {other_key}");
    let foreign = |path: String| (path, Some(auth.as_str()));
    for (path, key) in [
        (format!("/v1.0/wallets?limit=1&sortBy=name%3AASC&page={token}"), None),
        (format!("/v1.0/deposits?limit=1&page={token}"), None),
        (format!("/v1.0/transactions?limit=1&page={token}"), None),
        foreign(format!("/v1.0/wallets?limit=1&page={token}")),
    ] {
        let answer = match key {
            None => app.send("GET", &path, None).await,
            Some(auth) => app.send_as("GET", &path, None, &[("authorization", auth)]).await,
        };
        assert_eq!((answer.status, &answer.body["error"]["field"]), (400, &json!("page")), "{path}: {}", answer.body);
    }
    let deposits = app.send("GET", "/v1.0/deposits?limit=1", None).await.body;
    let deposit_token = next_token(&deposits);
    let answer = app.send("GET", &format!("/v1.0/transfers?limit=1&page={deposit_token}"), None).await;
    assert_eq!(answer.status, 400, "a deposit list's token on the transfer list: {}", answer.body);
}
