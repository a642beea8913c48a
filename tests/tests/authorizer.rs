//! The HTTP API's Lambda authorizer: the real binary, invoked with the payload 2.0 authorizer
//! request API Gateway sends, and in front of the routes the way the template configures it.

use aws_lambda_events::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use bytes::Bytes;
use pocketbook_tests::app::AUTHORIZER;
use pocketbook_tests::ddb_proxy::{Fault, FaultRule};
use pocketbook_tests::lambda::{FunctionPool, InvokeError};
use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::{AppOptions, TestApp};
use serde_json::{json, Value};

fn authorizer_request(authorization: Option<&str>) -> ApiGatewayV2CustomAuthorizerV2Request {
    let path = workspace_root().join("tests/fixtures/authorizer_request.json");
    let mut request: ApiGatewayV2CustomAuthorizerV2Request =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    request.headers.remove("authorization");
    request.identity_source = None;
    if let Some(value) = authorization {
        request.headers.insert("authorization", value.parse().unwrap());
        request.identity_source = Some(vec![value.to_owned()]);
    }
    request
}

async fn ask(
    pool: &FunctionPool,
    authorization: Option<&str>,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse, InvokeError> {
    let payload = serde_json::to_vec(&authorizer_request(authorization)).unwrap();
    let invocation = pool.invoke(Bytes::from(payload)).await?;
    Ok(serde_json::from_slice(&invocation.body).unwrap())
}

/// How many verdicts the authorizer function gave.
fn verdicts(pool: &FunctionPool) -> usize {
    pool.log_lines_containing("\"authorization\"").len()
}

#[tokio::test]
async fn a_known_key_is_admitted_with_its_project_and_scopes_and_others_are_not() {
    let app = TestApp::spawn_with(AppOptions::default().authorizer_function()).await;
    let pool = app.function(AUTHORIZER);
    let reader = app.new_api_key(&app.project, &["read"]).await;

    let admitted = ask(pool, Some(&format!("Bearer {}", app.api_key))).await.unwrap();
    assert!(admitted.is_authorized);
    assert_eq!(admitted.context["projectId"], app.project.as_str());
    assert_eq!(admitted.context["scopes"], "read write");
    assert!(admitted.context["keyId"].as_str().is_some_and(|id| id.starts_with("key-")));
    let read_only = ask(pool, Some(&format!("Bearer {reader}"))).await.unwrap();
    assert_eq!(read_only.context["scopes"], "read");

    for refused in [Some("Bearer pb_not_a_key"), Some(app.api_key.as_str()), Some("Basic dXNlcjpwYXNz"), None] {
        let answer = ask(pool, refused).await.unwrap();
        assert!(!answer.is_authorized, "{refused:?}");
        assert_eq!(answer.context, Value::Null, "a refusal carries no context");
    }
    let logs = pool.log_lines().join("\n");
    assert!(!logs.contains(&app.api_key) && !logs.contains(&reader), "keys never reach the log");
}

#[tokio::test]
async fn behind_the_authorizer_the_functions_trust_its_context() {
    let app = TestApp::spawn_with(AppOptions::default().authorizer_function()).await;
    let created = app.send("POST", "/balances", Some(&json!({"balanceType": "EUR"}))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    // The function looked up no key: the authorizer did.
    assert_eq!(app.round_trips("create-balance", &created), 1);
    let id = created.body["balanceId"].as_str().unwrap();
    let got = app.send("GET", &format!("/balances/{id}"), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(app.round_trips("get-balance", &got), 1);

    // A read-only key gets past the authorizer; the function refuses what it may not do.
    let reader = app.new_api_key(&app.project, &["read"]).await;
    let bearer = format!("Bearer {reader}");
    let headers = [("authorization", bearer.as_str())];
    assert_eq!(app.send_as("GET", &format!("/balances/{id}"), None, &headers).await.status, 200);
    let refused = app
        .send_as("POST", &format!("/balances/{id}/operations"), Some(&json!({"type": "INC", "amount": 1})), &headers)
        .await;
    assert_eq!((refused.status, refused.error_code()), (403, Some("FORBIDDEN")));

    // Three requests with the app's key so far, two with the reader's: one verdict each.
    assert_eq!(verdicts(app.function(AUTHORIZER)), 2, "verdicts are cached per Authorization header");
}

#[tokio::test]
async fn without_a_good_key_api_gateway_answers_before_any_function_runs() {
    let app = TestApp::spawn_with(AppOptions::default().authorizer_function()).await;
    let body = json!({"balanceType": "EUR"});
    let missing = app.send_as("POST", "/balances", Some(&body), &[]).await;
    assert_eq!((missing.status, &missing.body), (401, &json!({"message": "Unauthorized"})));
    // The identity source is the Authorization header: x-api-key alone does not get through.
    let other_header = app.send_as("POST", "/balances", Some(&body), &[("x-api-key", &app.api_key)]).await;
    assert_eq!(other_header.status, 401);
    let wrong = app.send_as("POST", "/balances", Some(&body), &[("authorization", "Bearer pb_wrong")]).await;
    assert_eq!((wrong.status, &wrong.body), (403, &json!({"message": "Forbidden"})));
    assert!(app.function("create-balance").log_lines_containing("\"request\"").is_empty());
}

#[tokio::test]
async fn a_store_fault_fails_the_authorizer_instead_of_turning_a_good_key_away() {
    let app = TestApp::spawn_with(AppOptions::default().authorizer_function().through_proxy()).await;
    let proxy = app.proxy.as_ref().unwrap();
    proxy.add_fault(FaultRule::once(app.table.clone(), "GetItem", Fault::Respond500).times(10));
    let answer = ask(app.function(AUTHORIZER), Some(&format!("Bearer {}", app.api_key))).await;
    assert!(matches!(answer, Err(InvokeError::Function { .. })), "{answer:?}");
    proxy.clear_faults(&app.table);
    let answer = ask(app.function(AUTHORIZER), Some(&format!("Bearer {}", app.api_key))).await.unwrap();
    assert!(answer.is_authorized);
}

#[tokio::test]
async fn the_authorizer_hands_on_a_keys_end_date_and_rate_and_refuses_a_revoked_key() {
    use pocketbook::domain::api_keys::KeyLimits;
    use pocketbook::domain::time::Millis;
    use pocketbook::edge::auth::{generate_api_key, hash_api_key};
    use pocketbook::store::{ApiKeyRecord, KeyLimitChange, NewApiKey};

    // Without its own key cache, so that the revocation below shows at once.
    let options = AppOptions::default().authorizer_function().env("POCKETBOOK_API_KEY_CACHE_SECONDS", "0");
    let app = TestApp::spawn_with(options).await;
    let pool = app.function(AUTHORIZER);
    let now = Millis::from_datetime(chrono::Utc::now());
    let key = generate_api_key();
    let record = ApiKeyRecord {
        key_id: format!("key-limited-{}", app.project),
        project_id: pocketbook::domain::names::ProjectId::parse(&app.project).unwrap(),
        scopes: vec!["read".into()],
        created_at: now,
    };
    let limits = KeyLimits { valid_until: Some(now.plus_ms(3_600_000)), revoked_at: None, rate_per_minute: Some(7) };
    let hash = hash_api_key(&key);
    let new = NewApiKey { hash: &hash, record: &record, signing_secret: None, limits, prefix: &key[..11] };
    app.store.insert_new_api_key(&new).await.unwrap();

    let admitted = ask(pool, Some(&format!("Bearer {key}"))).await.unwrap();
    assert!(admitted.is_authorized);
    assert_eq!(admitted.context["validUntil"], json!(now.plus_ms(3_600_000).epoch_ms().to_string()));
    assert_eq!(admitted.context["rateLimit"], json!("7"), "the functions count against it");

    assert!(app.store.limit_api_key(&record.project_id, &record.key_id, KeyLimitChange::Revoke(now)).await.unwrap());
    let refused = ask(pool, Some(&format!("Bearer {key}"))).await.unwrap();
    assert!(!refused.is_authorized, "a revoked key gets no verdict but a refusal");
    assert_eq!(refused.context, Value::Null);
}

#[tokio::test]
async fn behind_the_authorizer_an_end_date_and_a_rate_in_its_context_still_hold() {
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).timestamp_millis().to_string();
    let context = |extra: Value| {
        let mut context = json!({"projectId": "acme-ctx", "scopes": "read write", "keyId": "key-ctx"});
        if let (Some(context), Some(extra)) = (context.as_object_mut(), extra.as_object()) {
            context.extend(extra.clone());
        }
        context
    };
    let ended = TestApp::spawn_with(AppOptions::default().authorizer(context(json!({"validUntil": past})))).await;
    let answer = ended.send("GET", "/v1.0/wallets", None).await;
    assert_eq!((answer.status, &answer.body["error"]["code"]), (401, &json!("KEY_EXPIRED")), "{}", answer.body);

    let limited = TestApp::spawn_with(AppOptions::default().authorizer(context(json!({"rateLimit": "2"})))).await;
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(limited.send("GET", "/v1.0/wallets", None).await.status);
        }
        statuses
    };
    // Two a minute; a minute boundary inside the loop starts the count again.
    assert!(statuses[..2] == [200, 200] && statuses.contains(&429) || statuses == [200; 4], "{statuses:?}");
}
