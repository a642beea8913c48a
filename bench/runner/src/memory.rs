//! Figure 3: peak resident memory (VmHWM) of a warm function after 1,000 invocations, from
//! `/proc/<pid>/status`, with hello-world's for scale.

use crate::requests::{self, Requests};
use crate::support::{invoke, invoke_ok, memory_kib, mib, new_balance, seed_history, verdict, Bench, Figure, Table};

const TARGET_MIB: u64 = 32;

/// The i-th request of the 1,000 for `function`: a realistic mix, and the largest answers
/// the API gives (every tenth history page is a full page of 1,000 entries).
fn request(requests: &Requests, function: &str, i: usize) -> Option<String> {
    Some(match function {
        requests::HELLO_WORLD => "{}".into(),
        "create-balance" => requests.create(None),
        "get-balance" => requests.get(),
        "execute-operation" => match i % 10 {
            0 => requests.operate("INC", "1", r#","ttlInSeconds":3600"#),
            n if n % 2 == 1 => requests.operate("INC", "1.25", r#","subject":"bench""#),
            _ => requests.operate("DEC", "1.25", r#","subject":"bench""#),
        },
        "list-transactions" => match i % 10 {
            0 => requests.page(r#","pageSize":1000"#),
            _ => requests.page(""),
        },
        // Mostly the cached key; every tenth a key it must look up (and refuse).
        "authorizer" => match i % 10 {
            0 => requests.authorize(&pocketbook::edge::auth::generate_api_key()),
            _ => requests.authorize(&requests.api_key),
        },
        _ => return None,
    })
}

pub async fn run(bench: &Bench) -> Figure {
    let invocations = if bench.quick { 100 } else { 1000 };
    let fixture = bench.fixture("memory").await;
    // A balance with more than a full page of history, for the list; operations go to
    // another, which starts with enough for every DEC.
    let listed = seed_history(&fixture, 1_200).await;
    let list_requests = Requests::new(&fixture, listed.id).await;
    let operated = new_balance(&fixture).await;
    let requests = Requests::new(&fixture, operated.id).await;

    let mut names = vec![requests::HELLO_WORLD.to_owned()];
    names.extend(bench.functions.iter().cloned());
    let mut table = Table::new(&[
        "binary",
        "invocations",
        "VmRSS after the 1st",
        "VmHWM after all",
        "VmRSS after all",
        "target",
        "verdict",
    ]);
    let mut verdicts = Vec::new();
    for name in &names {
        let requests = if name == "list-transactions" { &list_requests } else { &requests };
        let Some(first) = request(requests, name, 1) else {
            table.row(vec![
                name.clone(),
                "0".into(),
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
                "no request defined for this function".into(),
            ]);
            continue;
        };
        let pool = bench.pool(name, &fixture.table, &bench.endpoint, 1).await;
        if name == "execute-operation" {
            invoke_ok(&pool, &requests.operate("INC", "1000000", "")).await;
        } else {
            invoke_ok(&pool, &first).await;
        }
        let pid = *pool.process_ids().first().expect("a process");
        let (_, rss_first) = memory_kib(pid).expect("read /proc/<pid>/status");
        for i in 1..invocations {
            let payload = request(requests, name, i).expect("a request");
            // Not `invoke_ok`: the authorizer refusing an unknown key is an answer too.
            match invoke(&pool, &payload).await.answer {
                Ok(body) if body.get("error").is_none() => {}
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(pool.cold_starts(), 1, "{name}: one process served every invocation");
        let (hwm, rss) = memory_kib(pid).expect("read /proc/<pid>/status");
        let is_hello = name == requests::HELLO_WORLD;
        let met = hwm <= TARGET_MIB * 1024;
        table.row(vec![
            name.clone(),
            invocations.to_string(),
            mib(rss_first),
            mib(hwm),
            mib(rss),
            format!("≤ {TARGET_MIB}"),
            if is_hello { "—".into() } else { verdict(met).into() },
        ]);
        if !is_hello {
            verdicts.push((format!("memory {name}"), met));
        }
        pool.shutdown().await;
    }
    bench.drop_table(&fixture.table).await;
    let markdown = format!(
        "### 3. Peak resident memory of a warm function (MiB)\n\n{}\n\n\
         One process per function serves all {invocations} invocations (direct invocations, one at a time). \
         execute-operation: INC/DEC of 1.25 and every tenth an INC of 1 with ttlInSeconds (so DECs also take from \
         live credits); list-transactions: pages of 100 and every tenth a page of 1,000 entries; authorizer: the \
         same key, and every tenth an unknown one.",
        table.render()
    );
    Figure { markdown, verdicts }
}
