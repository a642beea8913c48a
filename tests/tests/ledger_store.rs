//! The balance service against the local DynamoDB with a clock the test moves: expiring
//! credits, work larger than one transaction, and locks whose holder died.

use pocketbook::clock::Clock;
use pocketbook::domain::checksum;
use pocketbook::domain::entry::EntryKind;
use pocketbook::domain::money::{Amount, MinLimit};
use pocketbook::domain::names::{BalanceId, BalanceType};
use pocketbook::domain::operation::{Operation, TtlSeconds};
use pocketbook::engine::Outcome;
use pocketbook::services::{CreateBalanceRequest, ExecuteOperationError, OperationInput};
use pocketbook::store::TryLock;
use pocketbook_tests::ddb_proxy::{Fault, FaultRule};
use pocketbook_tests::in_process::LocalLedger;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::time::Duration;

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

async fn open(local: &LocalLedger) -> BalanceId {
    let request = CreateBalanceRequest {
        balance_type: BalanceType::parse("PTS").unwrap(),
        name: None,
        min_limit: MinLimit::ZERO,
    };
    match local.balances.create_balance(&local.project, &request, None).await.unwrap() {
        Outcome::Done(balance) => balance.id,
        Outcome::Replayed(_) => unreachable!(),
    }
}

async fn apply(local: &LocalLedger, id: BalanceId, operation: Operation) -> Result<Decimal, ExecuteOperationError> {
    match local.balances.execute_operation(&local.project, &OperationInput::new(id, operation), None, None).await? {
        Outcome::Done(done) => Ok(done.balance.amount),
        Outcome::Replayed(_) => unreachable!(),
    }
}

fn inc(amount: &str, ttl: Option<u64>) -> Operation {
    Operation::Inc { amount: Amount::new(dec(amount)).unwrap(), ttl: ttl.and_then(TtlSeconds::new) }
}

fn dec_op(amount: &str) -> Operation {
    Operation::Dec { amount: Amount::new(dec(amount)).unwrap() }
}

/// Every stored credit item: (remaining) in expiry order.
async fn credits(local: &LocalLedger, id: BalanceId) -> Vec<Decimal> {
    let (lots, complete) = local.store.credits_page(&local.project, id, None, 10_000).await.unwrap();
    assert!(complete);
    lots.into_iter().map(|lot| lot.remaining).collect()
}

async fn assert_chain_verifies(local: &LocalLedger, id: BalanceId) -> u64 {
    let head = local.store.read_head(&local.project, id).await.unwrap().unwrap();
    let history = local.store.full_history(&local.project, id).await.unwrap();
    let count = checksum::verify(id, &history, &head.balance.checksum).unwrap();
    assert_eq!(count, head.balance.transactions_count);
    count
}

#[tokio::test]
async fn credits_expire_at_their_time_with_an_entry_dated_then() {
    let local = LocalLedger::new().await;
    let id = open(&local).await;
    let start = local.clock.now();
    apply(&local, id, inc("10", Some(60))).await.unwrap();
    apply(&local, id, inc("5", None)).await.unwrap();
    assert_eq!(apply(&local, id, dec_op("4")).await.unwrap(), dec("11"), "the DEC took from the credit");

    local.clock.advance_ms(59_999);
    let (balance, _) = local.balances.get_balance(&local.project, id).await.unwrap();
    assert_eq!(balance.amount, dec("11"), "not yet");
    assert_eq!(balance.credits.next_expiry, Some(start.plus_seconds(60)));

    local.clock.advance_ms(1);
    let (balance, _) = local.balances.get_balance(&local.project, id).await.unwrap();
    assert_eq!(balance.amount, dec("5"), "what was left of the credit (6) expired");
    assert_eq!(balance.credits.next_expiry, None);
    let history = local.store.full_history(&local.project, id).await.unwrap();
    let expiry = history.last().unwrap();
    assert_eq!((expiry.kind, expiry.amount), (EntryKind::Dec, dec("6")));
    assert_eq!(expiry.main_tx_id, Some(history[0].id));
    assert_eq!(expiry.created_at, start.plus_seconds(60), "dated at the expiry");
    assert_eq!(expiry.request_time, local.clock.now());
    assert!(credits(&local, id).await.is_empty());
    assert_chain_verifies(&local, id).await;
}

#[tokio::test]
async fn an_operation_applies_due_expiries_first_even_when_it_is_refused() {
    let local = LocalLedger::new().await;
    let id = open(&local).await;
    apply(&local, id, inc("10", Some(5))).await.unwrap();
    apply(&local, id, inc("1", None)).await.unwrap();
    local.clock.advance_ms(5_000);
    let refused = apply(&local, id, dec_op("2")).await;
    assert!(matches!(refused, Err(ExecuteOperationError::Rejected(_))), "only 1 is left once the credit expired");
    let head = local.store.read_head(&local.project, id).await.unwrap().unwrap();
    assert_eq!(head.balance.amount, dec("1"));
    assert_eq!(head.balance.transactions_count, 3, "the expiry entry was written anyway");
    assert!(head.lock.is_none(), "and the lock released");
}

#[tokio::test]
async fn a_dec_spanning_more_credits_than_a_transaction_holds_is_one_entry() {
    let local = LocalLedger::new().await;
    let id = open(&local).await;
    for i in 0..250 {
        apply(&local, id, inc("1", Some(1_000 + i))).await.unwrap();
    }
    let start = local.clock.now();
    assert_eq!(apply(&local, id, dec_op("200.5")).await.unwrap(), dec("49.5"));

    let head = local.store.read_head(&local.project, id).await.unwrap().unwrap();
    assert_eq!(head.balance.transactions_count, 251, "one entry for the whole DEC");
    assert_eq!(head.balance.credits.debt, Decimal::ZERO, "everything was settled");
    assert_eq!(head.balance.credits.live, dec("49.5"));
    assert_eq!(head.balance.credits.next_expiry, Some(start.plus_seconds(1_200)));
    assert!(head.lock.is_none());
    let left = credits(&local, id).await;
    assert_eq!(left.len(), 50);
    assert_eq!(left[0], dec("0.5"), "the soonest survivor was partly used");
    assert_eq!(left.iter().sum::<Decimal>(), dec("49.5"));

    // Much later all of them expire, more than one transaction's worth of entries again.
    local.clock.advance_ms(2_000_000);
    let (balance, _) = local.balances.get_balance(&local.project, id).await.unwrap();
    assert_eq!(balance.amount, Decimal::ZERO);
    assert_eq!(assert_chain_verifies(&local, id).await, 251 + 50);
    assert!(credits(&local, id).await.is_empty());
}

#[tokio::test]
async fn settling_that_a_fault_cut_short_is_finished_by_the_next_writer() {
    let local = LocalLedger::with(true, Duration::from_millis(500)).await;
    let id = open(&local).await;
    for i in 0..120 {
        apply(&local, id, inc("1", Some(1_000 + i))).await.unwrap();
    }
    // The DEC's own transaction lands; every attempt of the settling one after it fails.
    let proxy = local.proxy.as_ref().unwrap();
    proxy.add_fault(FaultRule::once(local.table.clone(), "TransactWriteItems", Fault::Throttle).after(1).times(3));
    assert_eq!(apply(&local, id, dec_op("110")).await.unwrap(), dec("10"));
    assert_eq!(proxy.pending_faults(&local.table), 0);

    let head = local.store.read_head(&local.project, id).await.unwrap().unwrap();
    // The DEC's change (98 credits: there is no idempotency record) filled the first transaction.
    assert_eq!(head.balance.credits.debt, dec("12"), "the rest is left as debt");
    assert!(head.lock.is_none(), "the lock was released");
    assert_eq!(credits(&local, id).await.iter().sum::<Decimal>(), dec("22"), "live 10 + debt 12");

    apply(&local, id, inc("1", None)).await.unwrap();
    let head = local.store.read_head(&local.project, id).await.unwrap().unwrap();
    assert_eq!(head.balance.credits.debt, Decimal::ZERO);
    assert_eq!(head.balance.amount, dec("11"));
    assert_eq!(credits(&local, id).await, vec![Decimal::ONE; 10]);
    assert_chain_verifies(&local, id).await;
}

#[tokio::test]
async fn a_dead_holders_lock_blocks_only_until_its_lease_ends() {
    let local = LocalLedger::new().await;
    let id = open(&local).await;
    let now = local.clock.now();
    let held = local.store.try_lock(&local.project, id, "crashed-request", None, now, 5_000).await.unwrap();
    assert!(matches!(held, TryLock::Locked(_)));
    assert!(matches!(apply(&local, id, inc("1", None)).await, Err(ExecuteOperationError::Busy)));
    local.clock.advance_ms(5_001);
    assert_eq!(apply(&local, id, inc("1", None)).await.unwrap(), Decimal::ONE);
}

#[tokio::test]
async fn a_lost_commit_answer_is_recognised_even_when_another_writer_took_the_balance_meanwhile() {
    let local = LocalLedger::with(true, Duration::from_millis(200)).await;
    let id = open(&local).await;
    let proxy = local.proxy.as_ref().unwrap();
    // The commit lands but its answer is lost; the SDK's retry then fails the fence. Taking
    // over is slowed down until another writer holds the balance.
    proxy.add_fault(FaultRule::once(local.table.clone(), "TransactWriteItems", Fault::DropResponse));
    proxy.add_fault(
        FaultRule::once(local.table.clone(), "UpdateItem", Fault::Delay(Duration::from_millis(1_000))).after(1),
    );
    let (balances, project) = (local.balances.clone(), local.project.clone());
    let input = OperationInput::new(id, inc("5", None));
    let operation = tokio::spawn(async move { balances.execute_operation(&project, &input, None, None).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = local.store.try_lock(&local.project, id, "another-writer", None, local.clock.now(), 60_000).await;
    assert!(matches!(taken, Ok(TryLock::Locked(_))), "the first commit released the lock");

    match operation.await.unwrap() {
        Ok(Outcome::Done(done)) => assert_eq!(done.balance.amount, dec("5")),
        other => panic!("the landed operation must be reported as done, got {other:?}"),
    }
    assert_eq!(proxy.pending_faults(&local.table), 0);
    assert_eq!(assert_chain_verifies(&local, id).await, 1, "applied exactly once");
}
