//! `GET /wallets` sorted on anything but the creation time reads the sort index of its first
//! key, not the whole wallet index: every wallet is listed once and in exactly the order
//! `SortBy::compare` gives (wallets without the field, ties, multi-key orders, filters, pages
//! read forwards and backwards), and a page costs the same DynamoDB calls in a small project
//! and in a large one.
//!
//! Most wallets are written directly as Pocketbook writes a new wallet (`store::wallet_items`,
//! with their pockets already filled in), so that a project of thousands is quick to make; a
//! few go through the API (creation, deposits, a description changed), so that the writes of
//! the real paths are in the indexes too.

mod wallets_support;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use pocketbook::domain::names::{BalanceId, BalanceType, ProjectId, UpdateToken};
use pocketbook::domain::time::Millis;
use pocketbook::domain::wallet_numbers::WalletNumbers;
use pocketbook::domain::wallet_query::filter::Filter;
use pocketbook::domain::wallet_query::sort::SortBy;
use pocketbook::domain::wallet_query::{Field, WalletView};
use pocketbook::domain::wallets::{Description, ForeignId, Wallet, WalletInfo, WalletName};
use pocketbook::services::{WalletList, WalletListRequest};
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use uuid::Uuid;
use wallets_support::Api;

/// Names with ties, letter case and non-ASCII: code-point order puts `Zeta` before `alpha`
/// before `Épargne`.
const NAMES: [&str; 7] = ["Savings", "Savings plus", "alpha", "Zeta", "Épargne", "Rent", "Sav"];
/// Amounts with ties, and one tie between two spellings of one number.
const AMOUNTS: [&str; 8] = ["0", "0", "10", "10.0", "99.99", "0.00000001", "1000000", "250.5"];

/// A long description: 240 characters are kept whole in the index, so these two share one index
/// value and are ordered by the heads.
fn long_description(tail: &str) -> String {
    format!("{}{tail}", "d".repeat(250))
}

fn description(i: usize) -> Option<String> {
    match i % 6 {
        0 => None,
        1 => Some("rent".to_owned()),
        2 => Some(String::new()),
        3 => Some(long_description(if i % 4 == 0 { "b" } else { "a" })),
        4 => Some("d".repeat(240)),
        _ => Some("Savings for later".to_owned()),
    }
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

/// The `i`th seeded wallet of a project: every field from a small set, so that ties are common.
fn seeded_wallet(project: &ProjectId, i: usize, base_ms: i64) -> Wallet {
    let id = BalanceId::new(Uuid::new_v4());
    let info = WalletInfo {
        name: WalletName::parse(NAMES[i % NAMES.len()]).expect("a name"),
        description: description(i).map(|d| Description::parse(&d).expect("a description")),
        foreign_id: (i % 3 == 0).then(|| ForeignId::parse(&format!("cust-{i:05}")).expect("a foreign id")),
        foreign_data: None,
        is_main: false,
        creator_key_id: match i % 5 {
            0 => None,
            1 | 2 => Some("key-a".to_owned()),
            _ => Some("key-b".to_owned()),
        },
        numbers: WalletNumbers::of(id, 0),
    };
    // Several wallets a millisecond, several milliseconds a second.
    let created = Millis::from_epoch_ms(base_ms + (i as i64 / 3) * 400);
    let mut wallet = Wallet::open(project, id, info, BalanceType::xof(), created, UpdateToken::new(Uuid::new_v4()));
    let amount = dec(AMOUNTS[i % AMOUNTS.len()]);
    wallet.balance.amount = amount;
    wallet.balance.pockets.locked_in = dec(["0", "5", "0", "1.5"][i % 4]);
    wallet.balance.pockets.locked_out = dec(["0", "0", "2"][i % 3]);
    wallet.balance.pockets.volume_input = amount + dec(["0", "7", "0.5"][i % 3]);
    wallet.balance.pockets.volume_output = dec(["0", "7", "0.5"][i % 3]);
    wallet
}

/// What a wallet's head carried before the sort indexes existed: none of these.
const SORT_INDEX_ATTRIBUTES: [&str; 6] = [
    "walletProject",
    "walletSortDescription",
    "walletSortForeignId",
    "walletSortIsMain",
    "walletSortCreatorKeyId",
    "volumeTotal",
];

/// Writes `count` wallets into the API's project, 25 items per BatchWriteItem.
async fn seed(api: &Api, count: usize) {
    seed_as(api, count, false).await;
}

/// The same; `old`: as wallets were written before the sort indexes existed.
async fn seed_as(api: &Api, count: usize, old: bool) {
    let base_ms = api.now_ms() - 10 * 86_400_000;
    let items: Vec<HashMap<String, AttributeValue>> = (0..count)
        .flat_map(|i| pocketbook::store::wallet_items(&seeded_wallet(api.project(), i, base_ms)))
        .map(|mut item| {
            if old {
                for attribute in SORT_INDEX_ATTRIBUTES {
                    item.remove(attribute);
                }
            }
            item
        })
        .collect();
    let client = api.local.store.client();
    for chunk in items.chunks(25) {
        let mut requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                let put = PutRequest::builder().set_item(Some(item.clone())).build().expect("a put");
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        while !requests.is_empty() {
            let output = client
                .batch_write_item()
                .request_items(&api.local.table, requests)
                .send()
                .await
                .expect("BatchWriteItem of seeded wallets");
            requests = output.unprocessed_items().and_then(|u| u.get(&api.local.table)).cloned().unwrap_or_default();
        }
    }
}

/// A project of `seeded` wallets written directly, and a few made through the API: the main
/// wallet (with a deposit), wallets created with and without a description and foreign id,
/// deposits into some (commits move them in the pocket orders), a description changed.
async fn project(seeded: usize) -> Api {
    let api = Api::new().await;
    seed(&api, seeded).await;
    let main = api.send_json("POST", "/v1.0/deposits/initiate", &json!({"amount": 500})).await;
    assert_eq!(main.status, 201, "{}", main.text);
    let mut made = Vec::new();
    for (i, body) in [
        json!({"name": "alpha"}),
        json!({"name": "Zeta", "description": "rent", "foreignId": "api-1"}),
        json!({"name": "Savings", "description": long_description("c")}),
        json!({"name": "Épargne", "foreignId": "api-2"}),
    ]
    .iter()
    .enumerate()
    {
        let reply = api.send_json("POST", "/v1.0/wallets", body).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        let id = reply.body["id"].as_str().expect("an id").to_owned();
        if i % 2 == 0 {
            let body = json!({"destination": id, "amount": 10 * (i + 1)});
            let deposit = api.send_json("POST", "/v1.0/deposits/initiate", &body).await;
            assert_eq!(deposit.status, 201, "{}", deposit.text);
        }
        made.push(id);
    }
    let patched = api
        .send_json("PATCH", &format!("/v1.0/wallets/{}", made[0]), &json!({"change": {"description": "rent"}}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    api
}

fn request(filter: Option<&str>, sort: &str, limit: usize, page: Option<String>) -> WalletListRequest {
    WalletListRequest {
        filter: filter.map(|f| Filter::parse(f).unwrap_or_else(|e| panic!("{f}: {e}"))),
        sort: SortBy::parse(sort).unwrap_or_else(|e| panic!("{sort}: {e}")),
        limit,
        page,
        may_write: false,
    }
}

async fn list(api: &Api, request: &WalletListRequest) -> WalletList {
    match api.local.wallets.list_wallets(api.project(), None, request).await {
        Ok(list) => list,
        Err(e) => panic!("list {:?}: {e}", request.sort.to_string()),
    }
}

/// Every wallet of the project with its pockets, from the listing in creation order (which
/// reads the wallet index, not the sort indexes).
async fn everyone(api: &Api) -> Vec<WalletView> {
    let mut all = Vec::new();
    let mut page = None;
    loop {
        let listed = list(api, &request(None, "createdTime:ASC", 100, page)).await;
        all.extend(listed.wallets.iter().map(Wallet::view));
        match listed.pages.next {
            Some(next) => page = Some(next.token),
            None => return all,
        }
    }
}

/// The ids `SortBy::compare` puts in order, of the wallets the filter matches.
fn expected(all: &[WalletView], filter: Option<&str>, sort: &str, now_ms: i64) -> Vec<String> {
    let request = request(filter, sort, 1, None);
    let mut matching: Vec<&WalletView> =
        all.iter().filter(|w| request.filter.as_ref().is_none_or(|f| f.matches(w, now_ms))).collect();
    matching.sort_by(|a, b| request.sort.compare(a, b));
    matching.into_iter().map(|w| w.id.clone()).collect()
}

fn ids(list: &WalletList) -> Vec<String> {
    list.wallets.iter().map(|w| w.balance.id.to_string()).collect()
}

/// Every page forwards, then every page backwards from the last (by `previous`): the pages.
async fn walk(api: &Api, filter: Option<&str>, sort: &str, limit: usize) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let mut forwards: Vec<WalletList> = Vec::new();
    let mut page = None;
    loop {
        let listed = list(api, &request(filter, sort, limit, page)).await;
        assert!(listed.wallets.len() <= limit, "{sort}: a page of {} for {limit}", listed.wallets.len());
        let next = listed.pages.next.clone();
        forwards.push(listed);
        match next {
            Some(next) => page = Some(next.token),
            None => break,
        }
        assert!(forwards.len() < 10_000, "{sort}: the pages never end");
    }
    let mut backwards: Vec<Vec<String>> = Vec::new();
    let mut previous = forwards.last().and_then(|last| last.pages.previous.clone());
    while let Some(link) = previous {
        let listed = list(api, &request(filter, sort, limit, Some(link.token))).await;
        assert_eq!(listed.wallets.len(), limit, "{sort}: a previous page is full");
        backwards.push(ids(&listed));
        previous = listed.pages.previous.clone();
    }
    backwards.reverse();
    (forwards.iter().map(ids).collect(), backwards)
}

fn assert_same_order(got: &[String], expected: &[String], context: &str) {
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "{context}: a wallet listed twice");
    assert_eq!(got.len(), expected.len(), "{context}: {} listed, {} expected", got.len(), expected.len());
    if let Some(at) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!("{context}: the order differs first at position {at}: got {}, expected {}", got[at], expected[at]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sort_order_lists_every_wallet_once_in_the_comparators_order_forwards_and_backwards() {
    let started = std::time::Instant::now();
    let api = project(150).await;
    println!("{:?}: the fixture", started.elapsed());
    let all = everyone(&api).await;
    assert_eq!(all.len(), 150 + 5, "the seeded wallets, the main wallet and four more");
    let now_ms = api.now_ms();
    // (filter, sort, limit, also backwards)
    let cases: [(Option<&str>, &str, usize, bool); 18] = [
        (None, "name:ASC", 7, true),
        (None, "name:DESC", 7, false),
        (None, "mainPocket.balance.available:DESC", 7, true),
        (None, "mainPocket.balance:ASC", 25, false),
        (None, "mainPocket.volume.total:ASC", 7, false),
        (None, "mainPocket.balance.lockedIn:DESC,mainPocket.volume.input:ASC", 30, false),
        (None, "name:ASC,createdTime:DESC", 15, true),
        (None, "name:ASC,id:DESC", 25, false),
        (None, "description:ASC", 7, true),
        (None, "foreignId:DESC", 7, false),
        (None, "isMain:DESC,name:ASC", 50, false),
        (None, "creator.authAccessId:ASC", 10, false),
        (None, "id:DESC", 7, false),
        (None, "createdTime.timestamp.seconds:ASC", 7, true),
        (None, "createdTime:ASC,id:DESC", 7, false),
        (Some("name startsWith 'S'"), "mainPocket.balance.available:ASC", 10, true),
        (Some("mainPocket.balance.available >= 10"), "name:DESC", 15, false),
        (Some("description isDefined and not foreignId isDefined"), "creator._type:ASC,name:ASC", 9, true),
    ];
    for (filter, sort, limit, backwards) in cases {
        let context = format!("filter {filter:?}, sortBy {sort}, limit {limit}");
        let want = expected(&all, filter, sort, now_ms);
        assert!(!want.is_empty(), "{context}: the fixture gives it something to list");
        let (forwards, before) = walk(&api, filter, sort, limit).await;
        let listed: Vec<String> = forwards.concat();
        assert_same_order(&listed, &want, &context);
        if backwards {
            // Backwards from the last page: the pages before it, each as it was read forwards
            // (the last page is the one the walk back starts from).
            let whole_pages = forwards.len() - 1;
            assert_eq!(before.len(), whole_pages, "{context}: one previous page per page before the last");
            let mut back: Vec<String> = before.concat();
            back.extend(forwards.last().cloned().unwrap_or_default());
            let tail = listed.len() - back.len();
            assert_same_order(&back, &listed[tail..], &format!("{context}, backwards"));
        }
        println!("{:?}: {context} ({} pages)", started.elapsed(), forwards.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_orderable_field_lists_every_wallet_once_in_order_both_ways() {
    let api = project(100).await;
    let all = everyone(&api).await;
    let now_ms = api.now_ms();
    let fields = Field::ALL.into_iter().filter(|field| field.is_orderable());
    for (field, direction) in fields.flat_map(|field| [(field, "ASC"), (field, "DESC")]) {
        // 105 wallets in pages of 11: the page boundaries fall inside tie groups.
        let sort = format!("{field}:{direction}");
        let want = expected(&all, None, &sort, now_ms);
        assert_eq!(want.len(), all.len(), "{sort}: every wallet has a place in every order");
        let (forwards, before) = walk(&api, None, &sort, 11).await;
        let listed = forwards.concat();
        assert_same_order(&listed, &want, &sort);
        assert_eq!(before.len(), forwards.len() - 1, "{sort}: one previous page per page before the last");
        let mut back = before.concat();
        back.extend(forwards.last().cloned().unwrap_or_default());
        assert_same_order(&back, &listed[listed.len() - back.len()..], &format!("{sort}, backwards"));
    }
    // A filter that matches no wallet: an empty page, and no page after it.
    let none = list(&api, &request(Some("name = 'nobody'"), "name:ASC", 10, None)).await;
    assert!(none.wallets.is_empty() && none.pages.next.is_none());
}

/// The DynamoDB calls of one listing, by the ledger's own client.
async fn calls(api: &Api, filter: Option<&str>, sort: &str, limit: usize) -> (u64, usize) {
    let counter = api.local.engine.store().calls().clone();
    let before = counter.total();
    let listed = list(api, &request(filter, sort, limit, None)).await;
    (counter.total() - before, listed.wallets.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sorted_page_costs_the_same_calls_in_a_small_and_in_a_large_project() {
    let (small, large) = (project(40).await, project(2_000).await);
    let cases: [(Option<&str>, &str, usize); 6] = [
        (None, "name:ASC", 25),
        (None, "name:DESC", 25),
        (None, "mainPocket.balance.available:DESC", 25),
        (None, "mainPocket.volume.total:ASC", 25),
        // Half the wallets match: the first Query of a filtered walk (100 wallets) fills a
        // page of 10 at both sizes.
        (Some("creator.authAccessId isDefined"), "name:ASC", 10),
        (Some("mainPocket.balance.available >= 0"), "mainPocket.balance.available:DESC", 10),
    ];
    for (filter, sort, limit) in cases {
        let (small_calls, small_listed) = calls(&small, filter, sort, limit).await;
        let (large_calls, large_listed) = calls(&large, filter, sort, limit).await;
        assert_eq!((small_listed, large_listed), (limit, limit), "{filter:?} {sort}");
        assert_eq!(small_calls, 2, "{filter:?} {sort}: one Query of its sort index, one BatchGetItem of the heads");
        assert_eq!(large_calls, small_calls, "{filter:?} {sort}: the same calls at 45 and at 2,005 wallets");
    }
    // The next page too.
    assert_eq!(next_page_calls(&small).await, 2);
    assert_eq!(next_page_calls(&large).await, 2);
}

async fn next_page_calls(api: &Api) -> u64 {
    let first = list(api, &request(None, "name:ASC", 25, None)).await;
    let token = first.pages.next.expect("a next page").token;
    let counter = api.local.engine.store().calls().clone();
    let before = counter.total();
    list(api, &request(None, "name:ASC", 25, Some(token))).await;
    counter.total() - before
}

#[tokio::test]
async fn wallets_made_before_the_sort_indexes_are_listed_once_the_backfill_gave_them_their_keys() {
    let api = project(0).await;
    seed_as(&api, 12, true).await;
    let all = everyone(&api).await;
    assert_eq!(all.len(), 12 + 5);
    let by_name = walk(&api, None, "name:ASC", 5).await.0.concat();
    assert_eq!(by_name.len(), 5, "the old wallets are in no sort index yet");
    let store = &api.local.store;
    assert_eq!(store.backfill_wallet_sort_keys(api.project()).await.expect("backfill"), (12, 5));
    let by_name = walk(&api, None, "name:ASC", 5).await.0.concat();
    assert_same_order(&by_name, &expected(&all, None, "name:ASC", api.now_ms()), "after the backfill");
    let by_total = walk(&api, None, "mainPocket.volume.total:DESC", 5).await.0.concat();
    let want = expected(&all, None, "mainPocket.volume.total:DESC", api.now_ms());
    assert_same_order(&by_total, &want, "the volume total, summed by the backfill");
    assert_eq!(store.backfill_wallet_sort_keys(api.project()).await.expect("backfill again"), (0, 17), "once only");
}
