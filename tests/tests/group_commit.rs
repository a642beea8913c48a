//! Group commit (README, "Group commit"), with the real execute-operation binaries: many
//! clients on one balance; the batch holder killed at each step of a batch; a commit whose
//! answer is lost; a waiting caller whose holder died. Every time: every acknowledged
//! operation is in the chain exactly once, every refused or withdrawn one is absent, every
//! ticket is settled at most once, and the balance is exact.

use pocketbook::domain::checksum;
use pocketbook::domain::money::Amount;
use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::domain::operation::{Operation, OperationRequest};
use pocketbook::domain::queue::{Queued, Settled, Ticket};
use pocketbook::domain::time::Millis;
use pocketbook::store::TryLock;
use pocketbook_tests::ddb_proxy::{Fault, FaultRule};
use pocketbook_tests::lambda::InvokeError;
use pocketbook_tests::{Answer, AppOptions, TestApp};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now() -> Millis {
    Millis::from_epoch_ms(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
}

fn ids(app: &TestApp, id: &str) -> (ProjectId, BalanceId) {
    (ProjectId::parse(&app.project).unwrap(), BalanceId::parse(id).unwrap())
}

/// The stored chain verifies; the sessions of its operation entries, with their amounts.
async fn chain(app: &TestApp, id: &str) -> (Decimal, HashMap<String, usize>) {
    let (project, balance) = ids(app, id);
    let head = app.store.read_head(&project, balance).await.unwrap().unwrap();
    let stored = app.store.full_history(&project, balance).await.unwrap();
    assert_eq!(checksum::verify(balance, &stored, &head.balance.checksum), Ok(stored.len() as u64), "chain verifies");
    let mut sessions = HashMap::new();
    for entry in &stored {
        *sessions.entry(entry.session.clone()).or_insert(0) += 1;
    }
    (head.balance.amount, sessions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_on_one_balance_are_committed_in_batches_each_exactly_once() {
    let app = Arc::new(TestApp::spawn_with(AppOptions::default().instances(16)).await);
    let id = app.new_balance().await;
    let mut clients = Vec::new();
    for client in 0..16 {
        let (app, id) = (Arc::clone(&app), id.clone());
        clients.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for n in 0..8 {
                // INCs of 3 and DECs of 2 from zero: early DECs are refused, later ones pass.
                let (kind, amount) = if (client + n) % 2 == 0 { ("INC", 3) } else { ("DEC", 2) };
                let key = format!("gc-{client}-{n}");
                let answer = app.operate_with_key(&id, json!({"amount": amount, "type": kind}), &key).await;
                answers.push((key, kind, amount, answer.status, answer.body));
            }
            answers
        }));
    }
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.unwrap());
    }
    let (amount, sessions) = chain(&app, &id).await;
    let mut expected = Decimal::ZERO;
    for (key, kind, value, status, body) in &answers {
        match status {
            200 => {
                assert_eq!(sessions.get(key), Some(&1), "{key} acknowledged: in the chain once");
                assert_eq!(body["transactionsCount"].as_u64().map(|n| n > 0), Some(true));
                expected += if *kind == "INC" { Decimal::from(*value) } else { -Decimal::from(*value) };
            }
            422 | 429 => assert_eq!(sessions.get(key), None, "{key} refused ({status}): not in the chain"),
            other => panic!("{key}: unexpected {other}: {body}"),
        }
    }
    assert_eq!(amount, expected, "the balance is exactly what was acknowledged");
    assert!(amount >= Decimal::ZERO, "the minimum limit was never crossed");
    assert_eq!(answers.iter().filter(|a| a.3 == 429).count(), 0, "no 429 at 16 clients");
    // A repeat of an acknowledged key answers what the first answered, and applies nothing.
    // (A refusal keeps no answer: its repeat is a new request, so it is not repeated here.)
    for (key, kind, value, _, body) in answers.iter().filter(|a| a.3 == 200).take(16) {
        let again = app.operate_with_key(&id, json!({"amount": value, "type": kind}), key).await;
        assert_eq!((again.status, &again.body), (200, body), "{key} replays");
    }
    assert_eq!(chain(&app, &id).await.0, expected, "repeats applied nothing");
    let batched = app.function("execute-operation").log_lines_containing("group commit settled its tickets");
    assert!(!batched.is_empty(), "operations that found the balance busy were committed in batches");
}

/// `count` tickets of DEC 1 (with sessions `ticket-<i>`) written straight into the queue,
/// as waiters that are not looking (their answers are checked in the store), with their
/// deadline `deadline_ms` from now (in the past: waiters that died).
async fn waiting_tickets(app: &TestApp, id: &str, count: usize, deadline_ms: i64) -> Vec<Ticket> {
    let (project, balance) = ids(app, id);
    let mut tickets = Vec::new();
    for i in 0..count {
        let queued = Queued {
            ticket: Ticket::new(now()),
            request: OperationRequest {
                operation: Operation::Dec { amount: Amount::new(Decimal::ONE).unwrap() },
                subject: None,
                update_token: None,
                session: format!("ticket-{i}"),
            },
            key: None,
            form: "execute-operation".into(),
            expires_at: now().plus_ms(deadline_ms),
        };
        app.store.enqueue(&project, balance, &queued, now()).await.unwrap();
        tickets.push(queued.ticket);
    }
    tickets
}

/// Every ticket settled exactly as the chain shows it: applied ones in it once, the rest not.
async fn settled_as_the_chain_shows(app: &TestApp, id: &str, tickets: &[Ticket]) -> usize {
    let (project, balance) = ids(app, id);
    let (_, sessions) = chain(app, id).await;
    let mut applied = 0;
    for (i, ticket) in tickets.iter().enumerate() {
        let session = format!("ticket-{i}");
        match app.store.settled(&project, balance, ticket).await.unwrap() {
            Some(Settled::Applied { entry, .. }) => {
                assert_eq!(entry.session, session);
                assert_eq!(sessions.get(&session), Some(&1), "{session}: applied once");
                applied += 1;
            }
            Some(Settled::Expired) => assert_eq!(sessions.get(&session), None, "{session}: expired, so not applied"),
            Some(other) => panic!("{session}: settled as {other:?}"),
            None => assert_eq!(sessions.get(&session), None, "{session}: unsettled, so not applied"),
        }
    }
    applied
}

/// Locks the balance as the test, so that the next operation waits as a ticket.
async fn hold(app: &TestApp, id: &str) {
    let (project, balance) = ids(app, id);
    let taken = app.store.try_lock(&project, balance, "the-test", None, now(), 60_000).await.unwrap();
    assert!(matches!(taken, TryLock::Locked(_)));
}

async fn release(app: &TestApp, id: &str) {
    let (project, balance) = ids(app, id);
    app.store.unlock(&project, balance, "the-test").await.unwrap();
}

/// Holds the balance's lock and sends an operation, which waits; 300 ms later runs `look`
/// and releases the lock. The operation's answer, and what `look` saw while it waited.
async fn operate_while_held<T>(app: &TestApp, id: &str, body: Value, look: impl Future<Output = T>) -> (Answer, T) {
    hold(app, id).await;
    let released = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen = look.await;
        release(app, id).await;
        seen
    };
    tokio::join!(app.operate(id, body), released)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_holder_killed_at_each_step_loses_and_doubles_nothing() {
    let options = AppOptions::default().env("POCKETBOOK_LOCK_LEASE_MS", "1000").env("POCKETBOOK_LOCK_WAIT_MS", "4000");
    let app = TestApp::spawn_with(options).await;
    for failpoint in
        ["after-enqueue", "batch-after-lock", "batch-after-plan", "batch-between-commits", "batch-after-commit"]
    {
        let id = app.new_balance().await;
        assert_eq!(app.operate(&id, json!({"amount": 100, "type": "INC"})).await.status, 200);
        // 50 waiting DECs need two transactions (three items each, and the doomed one's).
        // Killed after writing its ticket, the doomed caller never holds the lock: then the
        // waiting tickets stand for waiters that died too (their deadline has passed).
        let orphans = failpoint == "after-enqueue";
        hold(&app, &id).await;
        let tickets = waiting_tickets(&app, &id, 50, if orphans { -1_000 } else { 60_000 }).await;
        let doomed = app.extra_pool("execute-operation", &[("POCKETBOOK_FAILPOINTS", failpoint)]).await;
        let payload = json!({"projectId": app.project, "balanceId": id, "amount": 1, "type": "DEC"});
        let dying = tokio::spawn(async move {
            let outcome = doomed.invoke_json(&payload).await;
            doomed.shutdown().await;
            outcome
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        release(&app, &id).await;
        let outcome = dying.await.unwrap();
        assert!(matches!(outcome, Err(InvokeError::Crashed { .. })), "{failpoint}: the holder died: {outcome:?}");
        if orphans {
            // Past the doomed caller's own deadline, a batch runs: it takes none of them.
            tokio::time::sleep(Duration::from_millis(4_000)).await;
            let (answer, ()) = operate_while_held(&app, &id, json!({"amount": 1, "type": "DEC"}), async {}).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            assert_eq!(settled_as_the_chain_shows(&app, &id, &tickets).await, 0, "orphans are never applied");
            // Well past their deadline, the batch settled them as expired: no batch reads them again.
            let (project, balance) = ids(&app, &id);
            for ticket in &tickets {
                let settled = app.store.settled(&project, balance, ticket).await.unwrap();
                assert_eq!(settled, Some(Settled::Expired), "an orphan is answered as expired");
            }
            // (The doomed caller's own ticket may still wait: its deadline is not a second past.)
            let queued = app.store.queued(&project, balance, 128).await.unwrap();
            assert!(queued.iter().all(|q| !tickets.contains(&q.ticket)), "no orphan is queued any more");
            assert_eq!(chain(&app, &id).await.0, Decimal::from(99), "only the live waiter's DEC");
            continue;
        }

        // A caller arriving now waits behind the dead holder's lease, then settles the rest.
        let survivor = app.operate(&id, json!({"amount": 1, "type": "DEC"})).await;
        assert_eq!(survivor.status, 200, "{failpoint}: {}", survivor.body);
        let applied = settled_as_the_chain_shows(&app, &id, &tickets).await;
        assert_eq!(applied, 50, "{failpoint}: every waiting ticket was applied once");
        let (amount, _) = chain(&app, &id).await;
        // The doomed caller's own operation may or may not have landed (it never heard).
        let doomed_applied = Decimal::from(100 - 50 - 1) - amount;
        assert!(doomed_applied == Decimal::ZERO || doomed_applied == Decimal::ONE, "{failpoint}: {amount}");
        let head = app.send("GET", &format!("/balances/{id}"), None).await.body;
        assert_eq!(head["transactionInProgress"], false, "{failpoint}: the lock is free again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_commit_whose_answer_is_lost_is_applied_once() {
    let options = AppOptions::default().through_proxy().env("POCKETBOOK_LOCK_WAIT_MS", "4000");
    let app = TestApp::spawn_with(options).await;
    let id = app.new_balance().await;
    assert_eq!(app.operate(&id, json!({"amount": 100, "type": "INC"})).await.status, 200);
    hold(&app, &id).await;
    let tickets = waiting_tickets(&app, &id, 5, 60_000).await;
    let proxy = app.proxy.as_ref().unwrap();
    proxy.add_fault(FaultRule::once(app.table.clone(), "TransactWriteItems", Fault::DropResponse));
    let waiter = {
        let app = &app;
        let id = id.clone();
        async move { app.operate(&id, json!({"amount": 1, "type": "DEC"})).await }
    };
    let released = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        release(&app, &id).await;
    };
    let (answer, ()) = tokio::join!(waiter, released);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(proxy.pending_faults(&app.table), 0, "the batch's answer was lost once");
    assert_eq!(settled_as_the_chain_shows(&app, &id, &tickets).await, 5);
    let (amount, _) = chain(&app, &id).await;
    assert_eq!(amount, Decimal::from(100 - 5 - 1), "each applied once");
    assert_eq!(answer.body["balanceAmount"].as_f64().map(|_| ()), Some(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiter_past_its_wait_withdraws_and_nothing_is_applied() {
    let options = AppOptions::default().env("POCKETBOOK_LOCK_WAIT_MS", "300");
    let app = TestApp::spawn_with(options).await;
    let id = app.new_balance().await;
    assert_eq!(app.operate(&id, json!({"amount": 10, "type": "INC"})).await.status, 200);
    hold(&app, &id).await;
    let busy = app.operate_with_key(&id, json!({"amount": 1, "type": "DEC"}), "withdrawn-1").await;
    assert_eq!(busy.status, 429, "{}", busy.body);
    release(&app, &id).await;
    let (amount, sessions) = chain(&app, &id).await;
    assert_eq!(amount, Decimal::from(10));
    assert_eq!(sessions.get("withdrawn-1"), None, "withdrawn: never applied");
    // Its ticket is gone: the next batch finds nothing of it.
    let after = app.operate(&id, json!({"amount": 1, "type": "DEC"})).await;
    assert_eq!(after.body["balanceAmount"], json!(9));
    // The same key again is a fresh request, applied once.
    let again = app.operate_with_key(&id, json!({"amount": 1, "type": "DEC"}), "withdrawn-1").await;
    assert_eq!(again.status, 200);
    assert_eq!(chain(&app, &id).await.1.get("withdrawn-1"), Some(&1));
}

#[tokio::test]
async fn with_group_commit_off_a_busy_balance_is_waited_for_by_retrying_its_lock() {
    // What `make bench` measures as "before".
    let app = TestApp::spawn_with(AppOptions::default().env("POCKETBOOK_GROUP_COMMIT", "off")).await;
    let id = app.new_balance().await;
    let (project, balance) = ids(&app, &id);
    let look = app.store.queued(&project, balance, 128);
    let (answer, queued) = operate_while_held(&app, &id, json!({"amount": 2, "type": "INC"}), look).await;
    let queued = queued.unwrap();
    assert!(queued.is_empty(), "no ticket: {queued:?}");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(chain(&app, &id).await.0, Decimal::from(2));
}
