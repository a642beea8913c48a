//! Figure 2: DynamoDB calls per action. Each function reports the calls its client made for a
//! request (an interceptor counts every request put on the wire, retries included) in its
//! request log line; the proxy between the functions and the local DynamoDB counts them
//! again on the wire. Warm functions, in the order a client would send the requests.

use crate::requests::Requests;
use crate::support::{invoke, invoke_ok, new_balance, reported_calls, verdict, Bench, Figure, Table};
use pocketbook_tests::ddb_proxy::DdbProxy;
use std::collections::BTreeMap;
use uuid::Uuid;

struct Case {
    function: &'static str,
    request: &'static str,
    payload: String,
    /// What README.md's cost table promises; `None` where it promises nothing.
    expected: Option<u64>,
}

pub async fn run(bench: &Bench) -> Figure {
    let fixture = bench.fixture("calls").await;
    let proxy = DdbProxy::start(bench.endpoint.clone()).await.expect("start the proxy");
    let balance = new_balance(&fixture).await;
    let requests = Requests::new(&fixture, balance.id).await;
    let mut pools = BTreeMap::new();
    for function in &bench.functions {
        pools.insert(function.clone(), bench.pool(function, &fixture.table, &proxy.url(), 1).await);
    }
    // Warm every function (process started, client connected) on another balance, the
    // authorizer with another key.
    let other = new_balance(&fixture).await;
    let others = Requests::new(&fixture, other.id).await;
    for (function, pool) in &pools {
        let warm = match function.as_str() {
            "create-balance" => Some(requests.create(None)),
            "get-balance" => Some(requests.get_of(other.id)),
            "execute-operation" => Some(requests.operate_on(other.id, "INC", "1", "")),
            "list-transactions" => Some(requests.page_of(other.id, "")),
            "authorizer" => Some(others.authorize(&others.api_key)),
            _ => None,
        };
        if let Some(payload) = warm {
            invoke_ok(pool, &payload).await;
        }
    }

    let key = Uuid::new_v4().to_string();
    let key_field = format!(r#","idempotencyKey":"{key}""#);
    let mut cases = vec![
        Case { function: "create-balance", request: "create", payload: requests.create(None), expected: Some(1) },
        Case {
            function: "create-balance",
            request: "create, idempotency key",
            payload: requests.create(Some(&Uuid::new_v4().to_string())),
            expected: Some(1),
        },
        Case { function: "get-balance", request: "read", payload: requests.get(), expected: Some(1) },
        Case {
            function: "execute-operation",
            request: "INC",
            payload: requests.operate("INC", "100", ""),
            expected: Some(2),
        },
        Case {
            function: "execute-operation",
            request: "DEC",
            payload: requests.operate("DEC", "1.5", ""),
            expected: Some(2),
        },
        Case {
            function: "execute-operation",
            request: "INC, idempotency key",
            payload: requests.operate("INC", "2", &key_field),
            expected: Some(2),
        },
        Case {
            function: "execute-operation",
            request: "the same again (replayed)",
            payload: requests.operate("INC", "2", &key_field),
            expected: None,
        },
        Case {
            function: "execute-operation",
            request: "INC with ttlInSeconds",
            payload: requests.operate("INC", "5", r#","ttlInSeconds":3600"#),
            expected: Some(2),
        },
        Case {
            function: "execute-operation",
            request: "DEC taking from a live credit",
            payload: requests.operate("DEC", "1", ""),
            expected: Some(3),
        },
        Case {
            function: "list-transactions",
            request: "newest page",
            payload: requests.page(r#","pageSize":2"#),
            expected: Some(1),
        },
        Case { function: "list-transactions", request: "next page", payload: String::new(), expected: Some(1) },
        Case {
            function: "list-transactions",
            request: "oldest page (asc)",
            payload: requests.page(r#","pageSize":2,"order":"asc""#),
            expected: Some(1),
        },
        Case {
            function: "authorizer",
            request: "a key it has not seen yet",
            payload: requests.authorize(&requests.api_key),
            expected: None,
        },
        Case {
            function: "authorizer",
            request: "the same key again (cached)",
            payload: requests.authorize(&requests.api_key),
            expected: None,
        },
        Case {
            function: "authorizer",
            request: "an unknown key (refused)",
            payload: requests.authorize(&pocketbook::edge::auth::generate_api_key()),
            expected: None,
        },
    ];
    cases.retain(|case| pools.contains_key(case.function));

    let mut table =
        Table::new(&["function", "request", "calls (reported)", "calls (on the wire)", "README says", "verdict"]);
    let mut verdicts = Vec::new();
    let mut token: Option<String> = None;
    for case in &cases {
        let pool = &pools[case.function];
        let payload = match (case.request, &token) {
            ("next page", Some(token)) => requests.page(&format!(r#","pageSize":2,"paginationToken":"{token}""#)),
            _ => case.payload.clone(),
        };
        let before = proxy.calls(&fixture.table).len();
        let invoked = invoke(pool, &payload).await;
        let wire = (proxy.calls(&fixture.table).len() - before) as u64;
        let body = match &invoked.answer {
            Ok(body) if body.get("error").is_none() => body.clone(),
            other => panic!("{} {}: {other:?}", case.function, case.request),
        };
        if case.request == "newest page" {
            token = body["paginationToken"].as_str().map(str::to_owned);
        }
        let reported = reported_calls(pool, &invoked.request_id).expect("a request log line");
        let met = case.expected.is_none_or(|expected| expected == reported) && reported == wire;
        table.row(vec![
            case.function.into(),
            case.request.into(),
            reported.to_string(),
            wire.to_string(),
            case.expected.map_or("—".into(), |e| e.to_string()),
            verdict(met).into(),
        ]);
        verdicts.push((format!("calls {} {}", case.function, case.request), met));
    }
    for function in bench.functions.iter().filter(|f| !cases.iter().any(|c| c.function == f.as_str())) {
        table.row(vec![
            function.clone(),
            "—".into(),
            "—".into(),
            "—".into(),
            "—".into(),
            "no request defined for this function".into(),
        ]);
    }
    for (_, pool) in pools {
        pool.shutdown().await;
    }
    bench.drop_table(&fixture.table).await;
    let markdown = format!(
        "### 2. DynamoDB calls per action (warm function)\n\n{}\n\n\
         \"Reported\" is the function's own count (`dynamodbCalls` in its request log line); \
         \"on the wire\" is what the proxy in front of the local DynamoDB saw for the same request.",
        table.render()
    );
    Figure { markdown, verdicts }
}
