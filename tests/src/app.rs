//! `TestApp`: the whole system on loopback for one test, like zero2prod's `spawn_app`. A fresh
//! table (from the same definition the admin tool and template use), the REAL function
//! binaries under the local Lambda runtime, an API Gateway front, and an API key.

use crate::ddb_proxy::DdbProxy;
use crate::gateway::{Authorization, Gateway, Route};
use crate::lambda::{FunctionPool, FunctionSpec};
use crate::local_dynamodb;
use pocketbook::domain::names::ProjectId;
use pocketbook::domain::time::Millis;
use pocketbook::edge::auth::{generate_api_key, hash_api_key};
use pocketbook::store::{schema, ApiKeyRecord, CallCounter, Store};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Instances (concurrent sandboxes) per function.
    pub instances: usize,
    /// Extra environment for every function.
    pub env: Vec<(String, String)>,
    /// Put the fault-injecting proxy between the functions and DynamoDB.
    pub through_proxy: bool,
    /// Behave like an API Gateway whose Lambda authorizer passes this context on.
    pub authorizer: Option<serde_json::Map<String, Value>>,
    /// Put the real authorizer function in front of the routes, as the template does.
    pub authorizer_function: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self { instances: 1, env: Vec::new(), through_proxy: false, authorizer: None, authorizer_function: false }
    }
}

impl AppOptions {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn instances(mut self, instances: usize) -> Self {
        self.instances = instances;
        self
    }

    pub fn through_proxy(mut self) -> Self {
        self.through_proxy = true;
        self
    }

    pub fn authorizer(mut self, context: Value) -> Self {
        self.authorizer = context.as_object().cloned();
        self
    }

    pub fn authorizer_function(mut self) -> Self {
        self.authorizer_function = true;
        self
    }
}

/// An HTTP answer, its body parsed as JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    /// The Lambda request id (the harness's gateway uses the API Gateway request id).
    pub request_id: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The refusal's code, in either facade's error body (ours, or Juspay's `error_code`).
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str().or_else(|| self.body["error_code"].as_str())
    }
}

pub struct TestApp {
    pub url: String,
    pub table: String,
    pub project: String,
    /// A read+write key for `project`.
    pub api_key: String,
    /// Direct access to the table (not counted in any function's round trips).
    pub store: Store,
    pub http: reqwest::Client,
    pub functions: BTreeMap<&'static str, FunctionPool>,
    pub proxy: Option<DdbProxy>,
    /// What the functions were started with, to start more pools alike.
    pub function_env: Vec<(String, String)>,
    _gateway: Gateway,
}

/// What the functions seal and open API keys' signing secrets with (`POCKETBOOK_SECRETS_KEY`).
pub const TEST_SECRETS_KEY: &str = "test-secrets-key-of-the-local-functions";

/// An API key with a signing secret: its requests must be signed. No Debug: it is all secret.
#[derive(Clone)]
pub struct SignedKey {
    pub key: String,
    pub key_id: String,
    pub secret: String,
}

/// The authorizer function's package and binary.
pub const AUTHORIZER: &str = "authorizer";
/// How long API Gateway caches the authorizer's verdicts: template.yaml's `ReauthorizeEvery`.
pub const AUTHORIZER_CACHE_TTL: Duration = Duration::from_secs(300);

/// Where cargo put the function binaries: beside the `deps` folder of this test binary.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `make test` (or `cargo build --workspace --all-targets --features pocketbook/test-hooks`) first",
        path.display()
    );
    path
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(AppOptions::default()).await
    }

    pub async fn spawn_with(options: AppOptions) -> Self {
        let endpoint = local_dynamodb::endpoint();
        let table = unique("pocketbook-test");
        let client = local_dynamodb::client(&endpoint).await;
        schema::create_table(&client, &table, false).await.expect("create the test table");
        let store = Store::new(client, table.clone(), CallCounter::default());

        let proxy = match options.through_proxy {
            true => Some(DdbProxy::start(endpoint.clone()).await.expect("start the DynamoDB proxy")),
            false => None,
        };
        let function_endpoint = proxy.as_ref().map_or(endpoint.clone(), |p| p.url());
        let mut function_env: Vec<(String, String)> = [
            ("TABLE_NAME", table.as_str()),
            ("AWS_ENDPOINT_URL_DYNAMODB", function_endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("RUST_LOG", std::env::var("TEST_FUNCTION_LOG").as_deref().unwrap_or("info")),
            ("POCKETBOOK_PAGE_TOKEN_KEY", "test-page-token-key"),
            (pocketbook::config::SECRETS_KEY, TEST_SECRETS_KEY),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        function_env.extend(options.env.iter().cloned());

        let mut functions = BTreeMap::new();
        let mut routes = Vec::new();
        for route in pocketbook::actions::ROUTES {
            // A function with several routes runs once, behind all of them.
            let pool = match functions.get(route.function) {
                Some(pool) => FunctionPool::clone(pool),
                None => start_pool(route.function, &function_env, options.instances).await,
            };
            let gateway_route = Route::new(route.method.parse().expect("method"), route.path, pool.clone());
            routes.push(if route.public { gateway_route.public() } else { gateway_route });
            functions.insert(route.function, pool);
        }
        // API Gateway's `$default` route, as template.yaml declares it.
        let not_found = start_pool(pocketbook::actions::NOT_FOUND_FUNCTION, &function_env, 1).await;
        routes.push(Route::default_route(not_found.clone()));
        functions.insert(pocketbook::actions::NOT_FOUND_FUNCTION, not_found);
        let authorization = if options.authorizer_function {
            let pool = start_pool(AUTHORIZER, &function_env, options.instances).await;
            functions.insert(AUTHORIZER, pool.clone());
            Authorization::Function { pool, ttl: AUTHORIZER_CACHE_TTL }
        } else {
            options.authorizer.clone().map_or(Authorization::None, Authorization::Context)
        };
        let gateway = Gateway::start_with(routes, authorization).await.expect("start the gateway");
        let project = unique("acme");
        let mut app = Self {
            url: gateway.url(),
            table,
            project: project.clone(),
            api_key: String::new(),
            store,
            http: reqwest::Client::new(),
            functions,
            proxy,
            function_env,
            _gateway: gateway,
        };
        app.api_key = app.new_api_key(&project, &["read", "write"]).await;
        app
    }

    /// Another pool of a function, with extra environment (e.g. a failpoint armed).
    pub async fn extra_pool(&self, function: &str, env: &[(&str, &str)]) -> FunctionPool {
        let mut all = self.function_env.clone();
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        start_pool(function, &all, 1).await
    }

    pub async fn new_api_key(&self, project: &str, scopes: &[&str]) -> String {
        let key = generate_api_key();
        let record = key_record(project, scopes);
        self.store.insert_api_key(&hash_api_key(&key), &record).await.expect("store the API key");
        key
    }

    /// A key whose requests must be signed with its secret (sealed as the admin tool seals it).
    pub async fn new_signed_api_key(&self, project: &str, scopes: &[&str]) -> SignedKey {
        use pocketbook::edge::auth::{generate_signing_secret, seal_signing_secret};
        let key = generate_api_key();
        let record = key_record(project, scopes);
        let secret = generate_signing_secret();
        let secrets = pocketbook::domain::sealed::SecretsKey::from_passphrase(TEST_SECRETS_KEY.as_bytes());
        let sealed = seal_signing_secret(&secrets, &record.key_id, &secret);
        self.store.insert_signed_api_key(&hash_api_key(&key), &record, &sealed).await.expect("store the API key");
        SignedKey { key, key_id: record.key_id, secret: secret.expose().to_owned() }
    }

    pub fn function(&self, name: &str) -> &FunctionPool {
        self.functions.get(name).unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Sends a request with this app's API key.
    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.send_as(method, path, body, &[("authorization", &format!("Bearer {}", self.api_key))]).await
    }

    /// Sends a request with exactly the given headers.
    pub async fn send_as(&self, method: &str, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.http.request(method.parse().expect("method"), format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        into_answer(request.send().await.expect("request reaches the gateway")).await
    }

    pub async fn send_raw(&self, method: &str, path: &str, body: String, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .http
            .request(method.parse().expect("method"), format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {}", self.api_key))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        into_answer(request.send().await.expect("request reaches the gateway")).await
    }

    /// POSTs a form body the way Juspay's clients do: the API key as the HTTP Basic username.
    pub async fn post_form_as_juspay(&self, path: &str, form: String) -> Answer {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.api_key));
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("request reaches the gateway");
        into_answer(response).await
    }

    /// The body of a GET exactly as sent: numbers keep their digits (no f64 on the way).
    pub async fn get_text(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {}", self.api_key))
            .send()
            .await
            .expect("request reaches the gateway");
        response.text().await.expect("a text body")
    }

    /// Creates a balance and returns its BalanceResponse.
    pub async fn create_balance(&self, body: Value) -> Value {
        let answer = self.send("POST", "/balances", Some(&body)).await;
        assert_eq!(answer.status, 201, "create balance: {}", answer.body);
        answer.body
    }

    /// A new empty EUR balance; its id.
    pub async fn new_balance(&self) -> String {
        let created = self.create_balance(serde_json::json!({"balanceType": "EUR"})).await;
        created["balanceId"].as_str().expect("balanceId").to_owned()
    }

    pub async fn operate(&self, balance_id: &str, body: Value) -> Answer {
        self.send("POST", &format!("/balances/{balance_id}/operations"), Some(&body)).await
    }

    pub async fn operate_with_key(&self, balance_id: &str, body: Value, key: &str) -> Answer {
        let auth = format!("Bearer {}", self.api_key);
        self.send_as(
            "POST",
            &format!("/balances/{balance_id}/operations"),
            Some(&body),
            &[("authorization", &auth), ("idempotency-key", key)],
        )
        .await
    }

    /// Every transaction of a balance, walking all pages in `order`.
    pub async fn all_transactions(&self, balance_id: &str, order: &str, page_size: usize) -> Vec<Value> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/balances/{balance_id}/transactions?order={order}&pageSize={page_size}");
            if let Some(token) = &token {
                path.push_str(&format!("&paginationToken={token}"));
            }
            let answer = self.send("GET", &path, None).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            all.extend(answer.body["transactions"].as_array().cloned().unwrap_or_default());
            match answer.body["paginationToken"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => return all,
            }
        }
    }

    /// The function's one log line for a request (`"message":"request"`), parsed.
    pub fn request_log(&self, function: &str, request_id: &str) -> Value {
        self.function(function)
            .log_lines_containing(request_id)
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| line["message"] == "request" && line["requestId"] == request_id)
            .unwrap_or_else(|| panic!("no request log line for {request_id} in {function}"))
    }

    /// DynamoDB round trips the function reported for this answer.
    pub fn round_trips(&self, function: &str, answer: &Answer) -> u64 {
        self.request_log(function, &answer.request_id)["dynamodbCalls"].as_u64().expect("dynamodbCalls")
    }
}

/// A new key's record in `project` with `scopes`, under a fresh key id.
fn key_record(project: &str, scopes: &[&str]) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: unique("key"),
        project_id: ProjectId::parse(project).expect("project id"),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: Millis::from_epoch_ms(0),
    }
}

async fn start_pool(function: &str, env: &[(String, String)], instances: usize) -> FunctionPool {
    let mut spec = FunctionSpec::new(function, binary(function)).instances(instances);
    for (key, value) in env {
        spec = spec.env(key.clone(), value.clone());
    }
    FunctionPool::start(spec).await.expect("start the function")
}

/// An answer, from a response to a request sent with `reqwest` directly (a form body, a
/// signed body, no key).
pub async fn into_answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let request_id = headers.get("apigw-requestid").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, headers, body, request_id }
}
