//! Figure 5: what a page of history costs as the history grows. One balance per size, each
//! on a table of its own, seeded directly (see `support::seed_history`), then pages read
//! through list-transactions behind the proxy (no added delay), which also times the local
//! DynamoDB's own share of every call.

use crate::requests::Requests;
use crate::support::{invoke, ms, reported_calls, seed_history, verdict, verify_chain, Bench, Figure, Samples, Table};
use pocketbook_tests::ddb_proxy::DdbProxy;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const PAGES: [&str; 3] = ["newest page", "next page", "oldest page (asc)"];

/// Above this many entries the stored chain is not re-read in full (it is checked as it is
/// written): every Query of the local DynamoDB scans its whole table.
const VERIFY_STORED_UP_TO: u64 = 10_000;

pub const SIZES: [u64; 3] = [100, 10_000, 100_000];

pub async fn run(bench: &Bench, sizes: &[u64]) -> Figure {
    let repeats = if bench.quick { 5 } else { 20 };
    let proxy = DdbProxy::start(bench.endpoint.clone()).await.expect("start the proxy");
    let mut table = Table::new(&[
        "entries",
        "page (100 entries)",
        "calls (reported)",
        "calls (on the wire)",
        "p50 ms",
        "p95 ms",
        "moto Query p50 ms",
        "p50 without moto",
        "failed",
    ]);
    let mut seeding = Vec::new();
    let mut calls_seen: BTreeSet<(usize, u64)> = BTreeSet::new();
    let mut all_ok = true;
    let mut failures: Vec<String> = Vec::new();
    for &size in sizes {
        let fixture = bench.fixture(&format!("history{size}")).await;
        let started = Instant::now();
        let balance = seed_history(&fixture, size).await;
        let seeded_in = started.elapsed();
        let check = if size <= VERIFY_STORED_UP_TO {
            match verify_chain(&fixture, balance.id).await {
                Ok(count) if count == size => "stored chain verified".to_owned(),
                Ok(count) => format!("**{count} entries stored**"),
                Err(error) => format!("**{error}**"),
            }
        } else {
            let head = fixture.store.read_head(&fixture.project, balance.id).await.expect("read").expect("head");
            match head.balance.transactions_count == size && head.balance.checksum == balance.checksum {
                true => "chain checked as written; head matches".to_owned(),
                false => "**head does not match the seeded chain**".to_owned(),
            }
        };
        all_ok &= !check.starts_with("**");
        seeding.push(format!("{size} entries in {:.1} s ({check})", seeded_in.as_secs_f64()));

        let requests = Requests::new(&fixture, balance.id).await;
        let pool = bench.pool("list-transactions", &fixture.table, &proxy.url(), 1).await;
        let first = invoke(&pool, &requests.page("")).await;
        let token = first.answer.as_ref().ok().and_then(|b| b["paginationToken"].as_str()).map(str::to_owned);
        for (index, page) in PAGES.iter().enumerate() {
            let payload = match (index, &token) {
                (0, _) => requests.page(""),
                (1, Some(token)) => requests.page(&format!(r#","paginationToken":"{token}""#)),
                (1, None) => {
                    let mut row = vec![size.to_string(), format!("{page}: none, the first page holds them all")];
                    row.extend(std::iter::repeat_n("—".to_owned(), 7));
                    table.row(row);
                    continue;
                }
                _ => requests.page(r#","order":"asc""#),
            };
            invoke(&pool, &payload).await; // warm
            proxy.take_upstream_calls(&fixture.table);
            let (mut took, mut without, mut moto_query) = (Vec::new(), Vec::new(), Vec::new());
            let (mut reported, mut wire) = (BTreeSet::new(), BTreeSet::new());
            let mut failed = 0;
            for _ in 0..repeats {
                let invoked = invoke(&pool, &payload).await;
                match &invoked.answer {
                    Ok(body) if body["transactions"].as_array().is_some_and(|t| t.len() == 100) => {}
                    other => {
                        failed += 1;
                        if failures.len() < 3 {
                            failures.push(format!("{size} entries, {page}: {other:?}"));
                        }
                    }
                }
                let upstream = proxy.take_upstream_calls(&fixture.table);
                let moto: Duration = upstream.iter().filter_map(|c| c.service).sum();
                moto_query.extend(upstream.iter().filter(|c| c.operation == "Query").filter_map(|c| c.service));
                wire.insert(upstream.len() as u64);
                reported.insert(reported_calls(&pool, &invoked.request_id).expect("a request log line"));
                took.push(invoked.took);
                without.push(invoked.took.saturating_sub(moto));
            }
            for calls in &reported {
                calls_seen.insert((index, *calls));
            }
            let took = Samples::new(took);
            let join = |set: &BTreeSet<u64>| set.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            table.row(vec![
                size.to_string(),
                page.to_string(),
                join(&reported),
                join(&wire),
                ms(took.median()),
                ms(took.percentile(95.0)),
                ms(Samples::new(moto_query).median()),
                ms(Samples::new(without).median()),
                failed.to_string(),
            ]);
            all_ok &= failed == 0;
        }
        pool.shutdown().await;
        bench.drop_table(&fixture.table).await;
    }
    // The target: each kind of page costs the same number of calls at every size.
    let same = PAGES.iter().enumerate().all(|(index, _)| calls_seen.iter().filter(|(i, _)| *i == index).count() == 1);
    let met = same && all_ok;
    let markdown = format!(
        "### 5. History page cost (list-transactions, pages of 100)\n\n{}\n\n\
         Target: the same number of calls at every size — {}. Seeded: {}. \"moto Query\": the local DynamoDB's \
         own time for the Query; \"without moto\": the rest (function, harness, HTTP on loopback).",
        table.render(),
        verdict(met),
        seeding.join("; "),
    );
    let markdown = match failures.is_empty() {
        true => markdown,
        false => format!("{markdown}\n\nFailed pages (first few): {}", failures.join("; ")),
    };
    Figure { markdown, verdicts: vec![("history page calls constant".into(), met)] }
}
