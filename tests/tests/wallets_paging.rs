//! `GET /wallets` over 1,000 wallets: every sort order pages through every wallet exactly once
//! and in order (ties broken by id in the direction of the first key), a page token is bound
//! to its filter and sort, and a table of filters and sorts agrees with a plain Rust
//! evaluation written here (not the library's evaluator).
//!
//! In process (the real edge and action code, see `wallets_support`) with a clock the test
//! moves: many wallets share a creation time, and they span several days so that `Yesterday`
//! splits them.

mod wallets_support;

use futures_util::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::str::FromStr;
use wallets_support::{dec, encode, percent_decode, Api, Reply, HOST};

const DAY_MS: i64 = 86_400_000;
const WALLETS: usize = 1_000;
const IN_FLIGHT: usize = 12;

/// Twenty names, so that many wallets share one; code-point order puts `Zeta` before `alpha`
/// before `Épargne` before `Ölfonds`.
const NAMES: [&str; 20] = [
    "Savings",
    "Savings plus",
    "Savvy",
    "Alpha",
    "alpha",
    "Beta",
    "Zeta",
    "zeta",
    "Épargne",
    "Ölfonds",
    "Rent",
    "Rent 2",
    "Groceries",
    "Holidays",
    "Main",
    "Travel",
    "Kids",
    "Car",
    "House",
    "Pension",
];
const DESCRIPTIONS: [&str; 3] = ["for the holidays", "rent", "Savings for later"];
/// What gets deposited into a wallet (0: nothing), with ties on purpose.
const DEPOSITS: [&str; 10] = ["0", "0", "10", "50", "99.99", "100", "100", "150.5", "250", "1000"];

#[derive(Debug, Clone)]
struct W {
    id: String,
    name: String,
    description: Option<String>,
    foreign_id: Option<String>,
    is_main: bool,
    created_ms: i64,
    available: Decimal,
}

#[derive(Debug, Clone, Copy)]
enum Key {
    Created,
    Name,
    Available,
    ForeignId,
    Id,
}

fn parse_sort(sort: Option<&str>) -> Vec<(Key, bool)> {
    let Some(sort) = sort else {
        return vec![(Key::Created, true)];
    };
    sort.split(',')
        .map(|part| {
            let (field, direction) = part.trim().split_once(':').unwrap_or((part.trim(), "ASC"));
            let key = match field {
                "createdTime" => Key::Created,
                "name" => Key::Name,
                "mainPocket.balance.available" => Key::Available,
                "foreignId" => Key::ForeignId,
                "id" => Key::Id,
                other => panic!("the oracle does not sort on {other}"),
            };
            (key, direction.eq_ignore_ascii_case("DESC"))
        })
        .collect()
}

/// The contract's order: the keys, then id in the direction of the first key.
fn oracle_order(wallets: &[&W], sort: Option<&str>) -> Vec<String> {
    let keys = parse_sort(sort);
    let mut sorted: Vec<&W> = wallets.to_vec();
    sorted.sort_by(|a, b| {
        for &(key, desc) in &keys {
            let order = match key {
                Key::Created => a.created_ms.cmp(&b.created_ms),
                Key::Name => a.name.cmp(&b.name),
                Key::Available => a.available.cmp(&b.available),
                // Absent is the least value.
                Key::ForeignId => a.foreign_id.cmp(&b.foreign_id),
                Key::Id => a.id.cmp(&b.id),
            };
            let order = if desc { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        let by_id = a.id.cmp(&b.id);
        if keys[0].1 {
            by_id.reverse()
        } else {
            by_id
        }
    });
    sorted.into_iter().map(|w| w.id.clone()).collect()
}

fn query(filter: Option<&str>, sort: Option<&str>, limit: Option<usize>, page: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(filter) = filter {
        parts.push(format!("filter={}", encode(filter)));
    }
    if let Some(sort) = sort {
        parts.push(format!("sortBy={}", encode(sort)));
    }
    if let Some(limit) = limit {
        parts.push(format!("limit={limit}"));
    }
    if let Some(page) = page {
        parts.push(format!("page={}", encode(page)));
    }
    format!("/v1.0/wallets?{}", parts.join("&"))
}

/// FPay's SDK's `fetch_page`: the listing's path and the page's `queryString`, verbatim.
fn fetch_path(page: &Value) -> String {
    let query = page["queryString"].as_str().unwrap_or_else(|| panic!("a queryString: {page}"));
    assert!(query.starts_with('?'), "a queryString starts with '?': {query}");
    format!("/v1.0/wallets{query}")
}

/// The page token a Page's `queryString` carries (its last parameter, `page`), decoded.
fn token_of(page: &Value) -> String {
    let query = page["queryString"].as_str().unwrap_or_else(|| panic!("a queryString: {page}"));
    let (_, token) = query.rsplit_once("&page=").or_else(|| query.split_once("?page=")).expect("a page token last");
    percent_decode(token)
}

/// What one page of a walk promises, FPay's collection: `url`, `items` and a `pagination`
/// whose `index` is `index`, with no `null` anywhere in it, the `limit` asked for, a
/// `previousPage` except on the first page, and the same `startedTime` as the walk's first page.
fn assert_page(reply: &Reply, path: &str, index: u64, limit: usize, started: Option<&Value>) {
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    let body = &reply.body;
    let keys: BTreeSet<&str> = body.as_object().expect("an object").keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["items", "pagination", "url"]), "{path}: {}", reply.text);
    let pagination = &body["pagination"];
    for (name, value) in pagination.as_object().expect("a pagination object") {
        assert!(!value.is_null(), "{path}: pagination.{name} is null: {pagination}");
    }
    let current = &pagination["currentPage"];
    assert_eq!(current["index"], index, "{path}: {pagination}");
    // The URL of this page is the one that reads it, with the host the request reached.
    let current_query = current["queryString"].as_str().expect("a queryString");
    assert_eq!(current["url"], format!("https://{HOST}/v1.0/wallets{current_query}"), "{path}");
    assert_eq!(body["url"], current["url"], "{path}");
    let items = body["items"].as_array().unwrap_or_else(|| panic!("{path}: no items: {}", reply.text));
    assert!(items.len() <= limit, "{path}: {} items on a page of {limit}", items.len());
    assert_eq!(pagination["nbItemsOnCurrentPage"], items.len(), "{path}: {pagination}");
    assert_eq!(pagination["nbItemsPerPage"], limit, "{path}: {pagination}");
    let started_time = pagination["startedTime"].as_str().unwrap_or_else(|| panic!("{path}: startedTime"));
    assert!(chrono::DateTime::parse_from_rfc3339(started_time).is_ok(), "{path}: startedTime {started_time}");
    if let Some(started) = started {
        assert_eq!(&pagination["startedTime"], started, "{path}: one startedTime for the whole walk");
    }
    match &pagination.get("previousPage") {
        None => assert_eq!(index, 1, "{path}: only the first page has no previousPage: {pagination}"),
        Some(previous) => {
            assert!(index > 1, "{path}: a previousPage on the first page: {pagination}");
            assert_eq!(previous["index"], index - 1, "{path}: {pagination}");
        }
    }
    for page in ["currentPage", "previousPage", "nextPage"].iter().filter_map(|name| pagination.get(*name)) {
        let query = page["queryString"].as_str().expect("a queryString");
        assert!(query.starts_with('?') && query.contains(&format!("limit={limit}&")), "{path}: {query}");
        assert!(!token_of(page).is_empty(), "{path}: {query}");
        assert_eq!(page["url"], format!("https://{HOST}/v1.0/wallets{query}"), "{path}");
    }
    if let Some(next) = pagination.get("nextPage") {
        assert_eq!(next["index"], index + 1, "{path}: {pagination}");
    }
}

/// Every page of the listing, as FPay's SDK walks it: the first page from `list()`'s query
/// string, every further one by `GET /v1.0/wallets` + `nextPage.queryString`, verbatim.
async fn walk(api: &Api, filter: Option<&str>, sort: Option<&str>, limit: usize) -> Vec<Reply> {
    let mut pages: Vec<Reply> = Vec::new();
    let mut path = query(filter, sort, Some(limit), None);
    for index in 1..=2 * WALLETS as u64 + 2 {
        let reply = api.send("GET", &path, None).await;
        let started = pages.first().map(|first| &first.body["pagination"]["startedTime"]);
        assert_page(&reply, &path, index, limit, started);
        let next = reply.body["pagination"].get("nextPage").map(fetch_path);
        pages.push(reply);
        match next {
            Some(next) => path = next,
            None => return pages,
        }
    }
    panic!("{filter:?} {sort:?}: the pages never end");
}

/// Every wallet the listing gives, page after page, as exact JSON.
async fn list_all(api: &Api, filter: Option<&str>, sort: Option<&str>, limit: usize) -> Vec<Value> {
    let pages = walk(api, filter, sort, limit).await;
    let mut all = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let items = page.exact["items"].as_array().expect("items");
        if i + 1 < pages.len() {
            assert_eq!(items.len(), limit, "a page before the last is full: {}", page.text);
        }
        all.extend(items.iter().cloned());
    }
    all
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|w| w["id"].as_str().expect("an id").to_owned()).collect()
}

fn assert_same_order(got: &[String], expected: &[String], context: &str) {
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "{context}: a wallet listed twice");
    let missing: Vec<&String> = expected.iter().filter(|id| !unique.contains(id)).collect();
    let wanted: BTreeSet<&String> = expected.iter().collect();
    let extra: Vec<&String> = got.iter().filter(|id| !wanted.contains(id)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{context}: missing {missing:?}, not expected {extra:?}");
    if let Some(at) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!("{context}: the order differs first at position {at}: got {}, expected {}", got[at], expected[at]);
    }
}

/// What the listing says of a wallet is what the test made.
fn assert_item(item: &Value, wallet: &W) {
    assert_eq!(item["name"], wallet.name.as_str(), "{item}");
    assert_eq!(item["description"].as_str(), wallet.description.as_deref(), "{item}");
    assert_eq!(item["foreignId"].as_str(), wallet.foreign_id.as_deref(), "{item}");
    assert_eq!(item["isMain"], wallet.is_main, "{item}");
    let created: i64 = item["createdTime"]["timestamp"]["milliseconds"].as_str().unwrap().parse().unwrap();
    assert_eq!(created, wallet.created_ms, "{item}");
    assert_eq!(dec(&item["mainPocket"]["balance"]["available"]), wallet.available, "{item}");
}

struct Fixture {
    api: Api,
    wallets: Vec<W>,
}

fn from_reply(reply: &Reply) -> W {
    let body = &reply.body;
    W {
        id: body["id"].as_str().expect("id").to_owned(),
        name: body["name"].as_str().expect("name").to_owned(),
        description: body["description"].as_str().map(str::to_owned),
        foreign_id: body["foreignId"].as_str().map(str::to_owned),
        is_main: body["isMain"].as_bool().expect("isMain"),
        created_ms: body["createdTime"]["timestamp"]["milliseconds"].as_i64().expect("createdTime"),
        available: dec(&reply.exact["mainPocket"]["balance"]["available"]),
    }
}

async fn fixture() -> Fixture {
    let api = Api::new().await;
    let mut rng = StdRng::seed_from_u64(1_000);
    // Five days ago; the batches below bring the clock back to about now.
    api.advance_ms(-5 * DAY_MS);

    let main = api.send_json("POST", "/v1.0/deposits/initiate", &json!({"amount": 500})).await;
    assert_eq!(main.status, 201, "{}", main.text);
    let main_id = main.body["destination"]["account"]["identifier"]["value"].as_str().unwrap().to_owned();
    let main = api.send("GET", &format!("/v1.0/wallets/{main_id}"), None).await;
    assert_eq!(main.status, 200, "{}", main.text);
    let mut wallets = vec![from_reply(&main)];

    let bodies: Vec<Value> = (0..WALLETS)
        .map(|i| {
            let mut body = json!({"name": NAMES[rng.random_range(0..NAMES.len())]});
            if i % 4 != 0 {
                body["description"] = json!(DESCRIPTIONS[rng.random_range(0..DESCRIPTIONS.len())]);
            }
            if i % 3 == 0 {
                body["foreignId"] = json!(format!("cust-{i:04}"));
            }
            if i % 7 == 0 {
                body["foreignData"] = json!(format!("{{\"n\":{i}}}"));
            }
            body
        })
        .collect();
    let mut next = 0;
    while next < WALLETS {
        // A batch shares one creation time: the clock stands still while it is created.
        let size = rng.random_range(1..=16).min(WALLETS - next);
        let now = api.now_ms();
        let replies: Vec<Reply> = stream::iter(&bodies[next..next + size])
            .map(|body| api.send_json("POST", "/v1.0/wallets", body))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for reply in replies {
            assert_eq!(reply.status, 201, "{}", reply.text);
            let wallet = from_reply(&reply);
            assert_eq!(wallet.created_ms, now, "created at the clock's time");
            wallets.push(wallet);
        }
        api.advance_ms(rng.random_range(1..=120) * 60_000);
        next += size;
    }

    let deposits: Vec<(usize, Decimal)> = (1..wallets.len())
        .map(|i| (i, Decimal::from_str(DEPOSITS[rng.random_range(0..DEPOSITS.len())]).unwrap()))
        .filter(|(_, amount)| !amount.is_zero())
        .collect();
    let replies: Vec<(usize, Decimal, Reply)> = stream::iter(deposits)
        .map(|(i, amount)| {
            let body = format!(r#"{{"destination": "{}", "amount": {amount}}}"#, wallets[i].id);
            let api = &api;
            async move { (i, amount, api.send("POST", "/v1.0/deposits/initiate", Some(&body)).await) }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    for (i, amount, reply) in replies {
        assert_eq!(reply.status, 201, "{}", reply.text);
        wallets[i].available += amount;
    }
    Fixture { api, wallets }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_wallets_page_exactly_once_in_every_order_and_filters_agree_with_the_oracle() {
    let started = std::time::Instant::now();
    let Fixture { api, wallets } = fixture().await;
    println!("{:?}: the fixture", started.elapsed());
    let everyone: Vec<&W> = wallets.iter().collect();
    assert_eq!(everyone.len(), WALLETS + 1, "a thousand and the main wallet");
    let by_id = |id: &str| wallets.iter().find(|w| w.id == id).unwrap_or_else(|| panic!("an unknown wallet {id}"));

    let sorts: [Option<&str>; 6] = [
        None,
        Some("createdTime:ASC"),
        Some("createdTime:DESC"),
        Some("name:ASC"),
        Some("name:DESC"),
        Some("mainPocket.balance.available:DESC,name:ASC"),
    ];
    for sort in sorts {
        let items = list_all(&api, None, sort, 100).await;
        assert_same_order(&ids(&items), &oracle_order(&everyone, sort), &format!("sortBy {sort:?}, limit 100"));
        for item in &items {
            assert_item(item, by_id(item["id"].as_str().unwrap()));
        }
        println!("{:?}: sortBy {sort:?}, limit 100", started.elapsed());
    }
    // Pages of 7 split the batches that share a creation time. (Small pages of the other sorts,
    // which walk the whole index per page, are in the filter table below, over fewer wallets.)
    let items = list_all(&api, None, None, 7).await;
    assert_same_order(&ids(&items), &oracle_order(&everyone, None), "the default sort, limit 7");
    println!("{:?}: the default sort, limit 7", started.elapsed());
    // The default page is 25 wallets.
    let first = api.send("GET", "/v1.0/wallets", None).await;
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(25), "{}", first.text);

    // The filter table, against plain Rust over what the test made.
    let now = api.now_ms();
    let yesterday = now.div_euclid(DAY_MS) * DAY_MS - DAY_MS;
    let before_yesterday = wallets.iter().filter(|w| w.created_ms < yesterday).count();
    assert!(
        before_yesterday > 100 && before_yesterday < WALLETS - 100,
        "Yesterday splits the wallets: {before_yesterday}"
    );
    let (a, b, c) = (&wallets[1].id, &wallets[500].id, &wallets[WALLETS].id);
    let prefix: String = wallets[2].id.chars().take(1).collect();
    let middle = wallets[500].created_ms;
    let middle_iso =
        chrono::DateTime::from_timestamp_millis(middle).unwrap().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let hundred = Decimal::from(100);
    type Test<'a> = Box<dyn Fn(&W) -> bool + 'a>;
    let cases: Vec<(String, Option<&str>, Test<'_>)> = vec![
        (format!("id in {{'{a}', {b}, \"{c}\"}}"), Some("name:ASC"), Box::new(|w: &W| [a, b, c].contains(&&w.id))),
        (
            "createdTime isBefore Yesterday".into(),
            Some("createdTime:ASC"),
            Box::new(move |w: &W| w.created_ms < yesterday),
        ),
        (format!("id startsWith '{prefix}'"), Some("name:ASC"), Box::new(|w: &W| w.id.starts_with(prefix.as_str()))),
        (
            "mainPocket.balance.available >= 100 and not isMain = true".into(),
            Some("mainPocket.balance.available:DESC,name:ASC"),
            Box::new(|w: &W| w.available >= hundred && !w.is_main),
        ),
        ("foreignId isDefined".into(), Some("name:DESC"), Box::new(|w: &W| w.foreign_id.is_some())),
        (
            "name startsWith 'Sav' or description !isDefined".into(),
            Some("createdTime:ASC"),
            Box::new(|w: &W| w.name.starts_with("Sav") || w.description.is_none()),
        ),
        ("isMain = true".into(), None, Box::new(|w: &W| w.is_main)),
        (
            "name = 'Savings' and mainPocket.balance.available = 0".into(),
            None,
            Box::new(|w: &W| w.name == "Savings" && w.available.is_zero()),
        ),
        (
            "foreignId !isDefined and createdTime isAfter Yesterday".into(),
            Some("name:ASC,createdTime:DESC"),
            Box::new(move |w: &W| w.foreign_id.is_none() && w.created_ms > yesterday),
        ),
        (
            "name in {'Alpha', 'zeta'} or (foreignId startsWith 'cust-01' and not description isDefined)".into(),
            Some("foreignId:ASC"),
            Box::new(|w: &W| {
                ["Alpha", "zeta"].contains(&w.name.as_str())
                    || (w.foreign_id.as_deref().is_some_and(|f| f.starts_with("cust-01")) && w.description.is_none())
            }),
        ),
        (
            "description != 'rent'".into(),
            Some("createdTime:DESC"),
            Box::new(|w: &W| w.description.as_deref() != Some("rent")),
        ),
        (
            "mainPocket.balance.available < 50 and name >= 'S'".into(),
            Some("mainPocket.balance.available:DESC,name:ASC"),
            Box::new(|w: &W| w.available < Decimal::from(50) && w.name.as_str() >= "S"),
        ),
        (
            format!("createdTime >= '{middle_iso}'"),
            Some("createdTime:ASC"),
            Box::new(move |w: &W| w.created_ms >= middle),
        ),
        (
            "NOT (name = 'Rent' OR name = 'Rent 2') and foreignId startsWith 'cust-0'".into(),
            Some("name:DESC"),
            Box::new(|w: &W| {
                !(w.name == "Rent" || w.name == "Rent 2")
                    && w.foreign_id.as_deref().is_some_and(|f| f.starts_with("cust-0"))
            }),
        ),
    ];
    for (filter, sort, test) in &cases {
        let matching: Vec<&W> = wallets.iter().filter(|w| test(w)).collect();
        assert!(!matching.is_empty(), "the fixture gives {filter:?} something to find");
        // Small pages where there are few matches: a page of a sort other than createdTime costs a
        // walk of the whole index, so small pages over many matches only cost time.
        let limits: &[usize] = if matching.len() <= 120 { &[100, 9] } else { &[100] };
        for &limit in limits {
            let items = list_all(&api, Some(filter), *sort, limit).await;
            assert_same_order(
                &ids(&items),
                &oracle_order(&matching, *sort),
                &format!("filter {filter:?}, sortBy {sort:?}, limit {limit}"),
            );
        }
        println!("{:?}: {filter:?} ({} wallets)", started.elapsed(), matching.len());
    }
}

#[tokio::test]
async fn a_page_token_only_goes_with_its_filter_and_sort() {
    let api = Api::new().await;
    for i in 0..12 {
        let created = api.send_json("POST", "/v1.0/wallets", &json!({"name": format!("Wallet {}", i % 3)})).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let (filter, sort) = ("name != 'Wallet 2'", "name:ASC");
    let first = api.send("GET", &query(Some(filter), Some(sort), Some(3), None), None).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let token = token_of(&first.body["pagination"]["nextPage"]);

    let same = api.send("GET", &query(Some(filter), Some(sort), Some(3), Some(&token)), None).await;
    assert_eq!(same.status, 200, "{}", same.text);
    let other_limit = api.send("GET", &query(Some(filter), Some(sort), Some(50), Some(&token)), None).await;
    assert_eq!(other_limit.status, 200, "the limit may change between pages: {}", other_limit.text);
    // 8 wallets and the main wallet match: 3 on the first page, the other 6 on this one.
    assert_eq!(other_limit.body["items"].as_array().map(Vec::len), Some(6));

    // One character in the middle changed (the last one may only carry padding bits).
    let middle = token.len() / 2;
    let swapped = if token.as_bytes()[middle] == b'A' { "B" } else { "A" };
    let tampered = format!("{}{swapped}{}", &token[..middle], &token[middle + 1..]);
    let misuses = [
        (Some("name != 'Wallet 1'"), Some(sort), token.as_str()),
        (None, Some(sort), token.as_str()),
        (Some(filter), Some("name:DESC"), token.as_str()),
        (Some(filter), None, token.as_str()),
        (Some(filter), Some("createdTime:ASC"), token.as_str()),
        (Some(filter), Some(sort), "not-a-token"),
        (Some(filter), Some(sort), tampered.as_str()),
    ];
    for (filter, sort, page) in misuses {
        let reply = api.send("GET", &query(filter, sort, Some(3), Some(page)), None).await;
        assert_eq!(
            (reply.status, reply.error_code()),
            (400, Some("VALIDATION_ERROR")),
            "{filter:?} {sort:?}: {}",
            reply.text
        );
        assert_eq!(reply.body["error"]["field"], "page", "{filter:?} {sort:?}: {}", reply.text);
    }
}

/// FPay's SDK (finalse-sdk 1.0.3) pages only through `fetch_page(page)`: `GET /v1.0/wallets` +
/// `page.queryString`, verbatim. Walked that way in every kind of order (the creation-time
/// index read forwards and backwards, an order sorted in memory, a filter naming its ids),
/// every wallet comes exactly once, the indexes count 1, 2, 3..., and from every page its
/// `previousPage` reads exactly the page before it (whose `nextPage` comes back to it), its
/// `currentPage` reads it again, and `startedTime` stays the walk's start while the clock runs.
#[tokio::test]
async fn following_the_pages_query_strings_as_fpays_sdk_does_walks_every_wallet_once_each_way() {
    let api = Api::new().await;
    let main = api.send("GET", "/v1.0/wallets?limit=1", None).await;
    assert_eq!(main.status, 200, "{}", main.text);
    let main = api.send("GET", &format!("/v1.0/wallets/{}", main.body["items"][0]["id"].as_str().unwrap()), None).await;
    let mut wallets = vec![from_reply(&main)];
    for i in 0..22 {
        // Pairs share a creation time, and names repeat: ties on both keys.
        if i % 2 == 0 {
            api.advance_ms(60_000);
        }
        let mut body = json!({"name": NAMES[i % 5]});
        if i % 3 == 0 {
            body["foreignId"] = json!(format!("fpay-{i:02}"));
        }
        let created = api.send_json("POST", "/v1.0/wallets", &body).await;
        assert_eq!(created.status, 201, "{}", created.text);
        wallets.push(from_reply(&created));
    }
    let everyone: Vec<&W> = wallets.iter().collect();
    let named: Vec<&W> = wallets.iter().step_by(3).collect();
    let named_filter =
        format!("id in {{{}}}", named.iter().map(|w| format!("'{}'", w.id)).collect::<Vec<_>>().join(", "));
    let cases: Vec<(Option<&str>, Option<&str>, Vec<&W>)> = vec![
        (None, None, everyone.clone()),
        (None, Some("createdTime:ASC"), everyone.clone()),
        (None, Some("name:ASC"), everyone.clone()),
        (None, Some("name:DESC"), everyone.clone()),
        (Some("foreignId isDefined or isMain = true"), Some("foreignId:ASC"), {
            everyone.iter().copied().filter(|w| w.foreign_id.is_some() || w.is_main).collect()
        }),
        (Some(named_filter.as_str()), Some("name:DESC"), named.clone()),
    ];
    for (filter, sort, expected) in cases {
        let expected = oracle_order(&expected, sort);
        for limit in [4, 5, 100] {
            let context = format!("filter {filter:?}, sortBy {sort:?}, limit {limit}");
            let before = api.now_ms();
            let pages = walk(&api, filter, sort, limit).await;
            let listed: Vec<String> =
                pages.iter().flat_map(|page| ids(page.body["items"].as_array().unwrap())).collect();
            assert_same_order(&listed, &expected, &context);
            assert_eq!(pages.len(), expected.len().div_ceil(limit).max(1), "{context}");
            let last = &pages[pages.len() - 1].body["pagination"];
            assert!(last.get("nextPage").is_none(), "{context}: a nextPage on the last page: {last}");
            let started = pages[0].body["pagination"]["startedTime"].as_str().unwrap();
            let started_ms = chrono::DateTime::parse_from_rfc3339(started).unwrap().timestamp_millis();
            assert_eq!(started_ms, before, "{context}: startedTime is when the walk started");

            // The query string repeats what the SDK's list() sent, in its order, then the token.
            let first_query = pages[0].body["pagination"]["currentPage"]["queryString"].as_str().unwrap().to_owned();
            let mut expected_query = String::from("?");
            if let Some(filter) = filter {
                expected_query.push_str(&format!("filter={}&", encode(filter)));
            }
            expected_query.push_str(&format!("limit={limit}&"));
            if let Some(sort) = sort {
                expected_query.push_str(&format!("sortBy={}&", encode(sort)));
            }
            assert!(first_query.starts_with(&format!("{expected_query}page=")), "{context}: {first_query}");

            for (i, page) in pages.iter().enumerate() {
                let index = i as u64 + 1;
                let pagination = &page.body["pagination"];
                // The clock runs during the walk: startedTime does not.
                api.advance_ms(1_000);
                let again_path = fetch_path(&pagination["currentPage"]);
                let again = api.send("GET", &again_path, None).await;
                assert_page(&again, &again_path, index, limit, Some(&pagination["startedTime"]));
                assert_eq!(again.body["items"], page.body["items"], "{context}: page {index} read again");
                let Some(previous) = pagination.get("previousPage") else { continue };
                let back_path = fetch_path(previous);
                let back = api.send("GET", &back_path, None).await;
                assert_page(&back, &back_path, index - 1, limit, Some(&pagination["startedTime"]));
                assert_eq!(back.body["items"], pages[i - 1].body["items"], "{context}: back from page {index}");
                let forward_path = fetch_path(&back.body["pagination"]["nextPage"]);
                let forward = api.send("GET", &forward_path, None).await;
                assert_page(&forward, &forward_path, index, limit, Some(&pagination["startedTime"]));
                assert_eq!(forward.body["items"], page.body["items"], "{context}: forward again to page {index}");
                assert_eq!(
                    forward.body["pagination"].get("nextPage").is_some(),
                    pagination.get("nextPage").is_some(),
                    "{context}: page {index}"
                );
            }
        }
    }

    // A token is bound to its page: the index, the start time and the cursor are sealed in it,
    // encrypted (nothing of them is readable) and authenticated (no byte can change).
    let pages = walk(&api, None, Some("name:ASC"), 4).await;
    let token = token_of(&pages[2].body["pagination"]["currentPage"]);
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64url");
    assert!(!bytes.windows(2).any(|w| w == b"3:"), "the page index is not readable in the token");
    for position in [0, bytes.len() / 2, bytes.len() - 1] {
        let mut altered = bytes.clone();
        altered[position] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(&altered);
        let reply = api.send("GET", &query(None, Some("name:ASC"), Some(4), Some(&forged)), None).await;
        assert_eq!((reply.status, reply.error_code()), (400, Some("VALIDATION_ERROR")), "{}", reply.text);
        assert_eq!(reply.body["error"]["field"], "page", "{}", reply.text);
    }
}
