//! The invocation payloads the figures send: direct invocations (the request body plus
//! `projectId` and the path and query parameters), as another AWS service would send them.
//! They skip API-key authentication, whose lookup a warm function caches anyway. The
//! authorizer gets what API Gateway sends a Lambda authorizer (payload 2.0).

use crate::support::Fixture;
use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::domain::time::Millis;
use pocketbook::edge::auth::{generate_api_key, hash_api_key};
use pocketbook::store::ApiKeyRecord;
use uuid::Uuid;

pub const HELLO_WORLD: &str = "hello-world";

pub struct Requests {
    pub project: ProjectId,
    pub balance: BalanceId,
    /// A read+write API key of `project`, for the authorizer.
    pub api_key: String,
}

impl Requests {
    pub async fn new(fixture: &Fixture, balance: BalanceId) -> Requests {
        let api_key = generate_api_key();
        let record = ApiKeyRecord {
            key_id: format!("key_{}", Uuid::new_v4().simple()),
            project_id: fixture.project.clone(),
            scopes: vec!["read".into(), "write".into()],
            created_at: Millis::from_epoch_ms(0),
        };
        fixture.store.insert_api_key(&hash_api_key(&api_key), &record).await.expect("store an API key");
        Requests { project: fixture.project.clone(), balance, api_key }
    }

    /// What each binary gets as its first invocation: a request that succeeds (hello-world:
    /// anything). `None` for a function the bench has no request for.
    pub fn cold_start(&self, function: &str) -> Option<String> {
        match function {
            HELLO_WORLD => Some("{}".into()),
            "create-balance" => Some(self.create(None)),
            "get-balance" => Some(self.get()),
            "execute-operation" => Some(self.operate("INC", "1", "")),
            "list-transactions" => Some(self.page("")),
            "authorizer" => Some(self.authorize(&self.api_key)),
            _ => None,
        }
    }

    pub fn create(&self, idempotency_key: Option<&str>) -> String {
        let key = idempotency_key.map(|k| format!(r#","idempotencyKey":"{k}""#)).unwrap_or_default();
        format!(r#"{{"projectId":"{}","balanceType":"EUR"{key}}}"#, self.project)
    }

    pub fn get(&self) -> String {
        format!(r#"{{"projectId":"{}","balanceId":"{}"}}"#, self.project, self.balance)
    }

    pub fn get_of(&self, balance: BalanceId) -> String {
        format!(r#"{{"projectId":"{}","balanceId":"{balance}"}}"#, self.project)
    }

    /// `amount` is JSON number text (exact, never a float); `extra` more fields, each
    /// starting with a comma.
    pub fn operate(&self, kind: &str, amount: &str, extra: &str) -> String {
        self.operate_on(self.balance, kind, amount, extra)
    }

    pub fn operate_on(&self, balance: BalanceId, kind: &str, amount: &str, extra: &str) -> String {
        format!(
            r#"{{"projectId":"{}","balanceId":"{balance}","amount":{amount},"type":"{kind}"{extra}}}"#,
            self.project
        )
    }

    /// A history page; `extra` more fields (pageSize, order, paginationToken), each starting
    /// with a comma.
    pub fn page(&self, extra: &str) -> String {
        self.page_of(self.balance, extra)
    }

    pub fn page_of(&self, balance: BalanceId, extra: &str) -> String {
        format!(r#"{{"projectId":"{}","balanceId":"{balance}"{extra}}}"#, self.project)
    }
}

impl Requests {
    /// The authorizer's event for `GET /balances/{balanceId}` with `Authorization: Bearer <key>`.
    pub fn authorize(&self, key: &str) -> String {
        let path = format!("/balances/{}", self.balance);
        let request_id = Uuid::new_v4();
        let now = Millis::from_datetime(chrono::Utc::now()).epoch_ms();
        serde_json::json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": format!("arn:aws:execute-api:us-east-1:000000000000:bench/$default/GET{path}"),
            "identitySource": [format!("Bearer {key}")],
            "routeKey": "GET /balances/{balanceId}",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"authorization": format!("Bearer {key}"), "user-agent": "pocketbook-bench"},
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "bench",
                "domainName": "bench.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "bench",
                "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "pocketbook-bench"},
                "requestId": request_id.to_string(),
                "routeKey": "GET /balances/{balanceId}",
                "stage": "$default",
                "timeEpoch": now,
            },
            "pathParameters": {"balanceId": self.balance.to_string()},
        })
        .to_string()
    }
}
