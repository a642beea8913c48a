//! Quasi-transfers and fund requests that pass their `expire` time, with a clock the test
//! moves: the scheduled sweeper expires them even when nobody touches them (the locked money
//! goes back to its source), and a command after the time finds them expired. And a wallet's
//! expiring credits (from the balance API) are gone from what reads it once they expire.

use pocketbook::domain::money::Amount;
use pocketbook::domain::movements::{MovementKind, MovementStatus};
use pocketbook::domain::names::{BalanceId, BalanceType};
use pocketbook::domain::operation::{Operation, TtlSeconds};
use pocketbook::domain::wallet_query::filter::Filter;
use pocketbook::domain::wallet_query::sort::SortBy;
use pocketbook::domain::wallets::{Expire, Wallet, WalletName};
use pocketbook::edge::sweeper;
use pocketbook::engine::Outcome;
use pocketbook::services::{MovementCommand, NewMovement, NewWallet, OperationInput, WalletError, WalletListRequest};
use pocketbook_tests::in_process::LocalLedger;
use rust_decimal::Decimal;
use std::time::{Duration, SystemTime};

const HOUR_MS: i64 = 60 * 60 * 1000;

async fn wallet(local: &LocalLedger, name: &str) -> String {
    let new = NewWallet {
        name: WalletName::parse(name).unwrap(),
        description: None,
        foreign_data: None,
        foreign_id: None,
        balance_type: BalanceType::xof(),
    };
    match local.wallets.create_wallet(&local.project, Some("key"), &new, None).await.unwrap() {
        Outcome::Done(wallet) => wallet.balance.id.to_string(),
        Outcome::Replayed(_) => unreachable!("no key, no replay"),
    }
}

async fn movement(local: &LocalLedger, kind: MovementKind, source: &str, destination: &str, amount: i64) -> uuid::Uuid {
    let new = NewMovement {
        kind,
        source: (kind != MovementKind::Deposit).then(|| source.to_owned()),
        destination: Some(destination.to_owned()),
        amount: Amount::new(Decimal::from(amount)).unwrap(),
        origin: None,
        currency: None,
        foreign_id: None,
        notes: Default::default(),
        expire: Some(Expire::parse("after 1h").unwrap()),
    };
    match local.wallets.create_movement(&local.project, Some("key"), &new, None).await.unwrap() {
        Outcome::Done(movement) => movement.id,
        Outcome::Replayed(_) => unreachable!("no key, no replay"),
    }
}

/// (available, lockedIn, lockedOut)
async fn pockets(local: &LocalLedger, id: &str) -> (Decimal, Decimal, Decimal) {
    let Wallet { balance, .. } = local.wallets.get_wallet(&local.project, id).await.unwrap();
    (balance.amount, balance.pockets.locked_in, balance.pockets.locked_out)
}

/// A deadline no run in these tests comes near.
fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn d(value: i64) -> Decimal {
    Decimal::from(value)
}

#[tokio::test]
async fn the_sweeper_expires_an_untouched_quasi_transfer_and_returns_the_money() {
    let local = LocalLedger::new().await;
    let (a, b) = (wallet(&local, "a").await, wallet(&local, "b").await);
    movement(&local, MovementKind::Deposit, "", &a, 100).await;
    let quasi = movement(&local, MovementKind::QuasiTransfer, &a, &b, 30).await;
    assert_eq!(pockets(&local, &a).await, (d(70), d(0), d(30)));
    assert_eq!(pockets(&local, &b).await, (d(0), d(30), d(0)));

    local.clock.advance_ms(HOUR_MS - 1);
    let early = sweeper::sweep(&local.wallets, "t1", in_a_minute()).await.unwrap();
    assert_eq!(early.expired, 0, "not yet");
    assert_eq!(pockets(&local, &a).await, (d(70), d(0), d(30)));

    local.clock.advance_ms(1);
    let swept = sweeper::sweep(&local.wallets, "t2", in_a_minute()).await.unwrap();
    assert_eq!((swept.expired, swept.more), (1, false));
    assert_eq!(pockets(&local, &a).await, (d(100), d(0), d(0)), "back to the source");
    assert_eq!(pockets(&local, &b).await, (d(0), d(0), d(0)));
    let again = sweeper::sweep(&local.wallets, "t3", in_a_minute()).await.unwrap();
    assert_eq!((again.expired, again.resolved_meanwhile), (0, 0), "nothing left scheduled");

    let receive = local.wallets.resolve_movement(
        &local.project,
        MovementKind::QuasiTransfer,
        quasi,
        MovementCommand::Complete(None),
    );
    match receive.await {
        Err(WalletError::AlreadyResolved(status)) => assert_eq!(status.to_string(), "Failure (Expired)"),
        other => panic!("expected ALREADY_RESOLVED, got {other:?}"),
    }
}

#[tokio::test]
async fn a_command_after_the_time_expires_it_first() {
    let local = LocalLedger::new().await;
    let (a, b) = (wallet(&local, "a").await, wallet(&local, "b").await);
    movement(&local, MovementKind::Deposit, "", &a, 100).await;
    let quasi = movement(&local, MovementKind::QuasiTransfer, &a, &b, 30).await;
    local.clock.advance_ms(HOUR_MS);
    let cancel =
        local.wallets.resolve_movement(&local.project, MovementKind::QuasiTransfer, quasi, MovementCommand::Cancel);
    assert!(matches!(cancel.await, Err(WalletError::AlreadyResolved(MovementStatus::Failure(_)))));
    assert_eq!(pockets(&local, &a).await, (d(100), d(0), d(0)));
    let swept = sweeper::sweep(&local.wallets, "t", in_a_minute()).await.unwrap();
    assert_eq!((swept.expired, swept.resolved_meanwhile), (0, 0), "its schedule entry went with it");
}

#[tokio::test]
async fn a_fund_request_expires_without_moving_money_and_can_no_longer_be_sent() {
    let local = LocalLedger::new().await;
    let (a, b) = (wallet(&local, "a").await, wallet(&local, "b").await);
    movement(&local, MovementKind::Deposit, "", &a, 100).await;
    let request = movement(&local, MovementKind::FundRequest, &a, &b, 30).await;
    assert_eq!(pockets(&local, &a).await, (d(100), d(0), d(0)), "asking moves nothing");
    local.clock.advance_ms(HOUR_MS);
    assert_eq!(sweeper::sweep(&local.wallets, "t", in_a_minute()).await.unwrap().expired, 1);
    let send = local.wallets.resolve_movement(
        &local.project,
        MovementKind::FundRequest,
        request,
        MovementCommand::Complete(None),
    );
    assert!(matches!(send.await, Err(WalletError::AlreadyResolved(MovementStatus::Failure(_)))));
    assert_eq!(pockets(&local, &a).await, (d(100), d(0), d(0)));
    assert_eq!(pockets(&local, &b).await, (d(0), d(0), d(0)));
}

#[tokio::test]
async fn one_resolved_in_time_is_not_scheduled_any_more() {
    let local = LocalLedger::new().await;
    let (a, b) = (wallet(&local, "a").await, wallet(&local, "b").await);
    movement(&local, MovementKind::Deposit, "", &a, 100).await;
    let quasi = movement(&local, MovementKind::QuasiTransfer, &a, &b, 30).await;
    let received = local
        .wallets
        .resolve_movement(&local.project, MovementKind::QuasiTransfer, quasi, MovementCommand::Complete(None))
        .await
        .unwrap();
    assert_eq!(received.status, MovementStatus::Successful);
    local.clock.advance_ms(2 * HOUR_MS);
    let swept = sweeper::sweep(&local.wallets, "t", in_a_minute()).await.unwrap();
    assert_eq!((swept.expired, swept.resolved_meanwhile), (0, 0));
    assert_eq!(pockets(&local, &a).await, (d(70), d(0), d(0)));
    assert_eq!(pockets(&local, &b).await, (d(30), d(0), d(0)));
}

/// A wallet is a balance: an expiring credit put on it through the balance API expires from
/// the wallet too. Reading it (alone or in a list) writes the expiry first, as
/// `GET /balances/{id}` does, so no answer shows money that has expired.
#[tokio::test]
async fn a_wallets_expired_credit_is_gone_from_its_get_and_its_listing() {
    let local = LocalLedger::new().await;
    let a = wallet(&local, "a").await;
    movement(&local, MovementKind::Deposit, "", &a, 100).await;
    let credit = Operation::Inc { amount: Amount::new(d(40)).unwrap(), ttl: TtlSeconds::new(60) };
    let id = BalanceId::parse(&a).unwrap();
    local.balances.execute_operation(&local.project, &OperationInput::new(id, credit), None, None).await.unwrap();
    assert_eq!(pockets(&local, &a).await, (d(140), d(0), d(0)));

    local.clock.advance_ms(60_000);
    assert_eq!(pockets(&local, &a).await, (d(100), d(0), d(0)), "get writes the expiry off");
    let wallet = local.wallets.get_wallet(&local.project, &a).await.unwrap();
    assert_eq!((wallet.balance.pockets.volume_input, wallet.balance.pockets.volume_output), (d(140), d(40)));

    // Another expiring credit, listed once it has expired: by the filter that pins its id and
    // by a creation-time walk that filters on pockets.
    let credit = Operation::Inc { amount: Amount::new(d(5)).unwrap(), ttl: TtlSeconds::new(1) };
    local.balances.execute_operation(&local.project, &OperationInput::new(id, credit), None, None).await.unwrap();
    local.clock.advance_ms(1_000);
    for filter in [format!("id = {a}"), "mainPocket.balance.available > 0".to_owned()] {
        let request = WalletListRequest {
            filter: Some(Filter::parse(&filter).unwrap()),
            sort: SortBy::default(),
            limit: 10,
            page: None,
            may_write: true,
        };
        let listed = local.wallets.list_wallets(&local.project, Some("key"), &request).await.unwrap();
        let amounts: Vec<Decimal> = listed.wallets.iter().map(|w| w.balance.amount).collect();
        assert_eq!(amounts, vec![d(100)], "{filter}");
    }
}

/// A transfer out of a wallet whose credit has expired writes the expiry off first, in the
/// transfer's own transaction: two locks, the credits read, one commit.
#[tokio::test]
async fn a_transfer_writes_an_expired_credit_off_in_its_own_transaction() {
    let local = LocalLedger::new().await;
    let (a, b) = (wallet(&local, "a").await, wallet(&local, "b").await);
    movement(&local, MovementKind::Deposit, "", &a, 100).await;
    let credit = Operation::Inc { amount: Amount::new(d(40)).unwrap(), ttl: TtlSeconds::new(60) };
    let id = BalanceId::parse(&a).unwrap();
    local.balances.execute_operation(&local.project, &OperationInput::new(id, credit), None, None).await.unwrap();
    local.clock.advance_ms(60_000);

    let calls = local.engine.store().calls().total();
    let new = NewMovement {
        kind: MovementKind::Transfer,
        source: Some(a.clone()),
        destination: Some(b.clone()),
        amount: Amount::new(d(30)).unwrap(),
        origin: None,
        currency: None,
        foreign_id: None,
        notes: Default::default(),
        expire: None,
    };
    local.wallets.create_movement(&local.project, Some("key"), &new, None).await.unwrap();
    assert_eq!(local.engine.store().calls().total() - calls, 4, "lock, lock, credits, one commit");
    assert_eq!(pockets(&local, &a).await, (d(70), d(0), d(0)), "the credit expired before the transfer");
    assert_eq!(pockets(&local, &b).await, (d(30), d(0), d(0)));
    let history = local.store.full_history(&local.project, id).await.unwrap();
    let kinds: Vec<(String, Decimal)> = history.iter().map(|e| (e.kind.as_str().to_owned(), e.amount)).collect();
    let expected = [("INC", 100), ("INC", 40), ("DEC", 40), ("DEC", 30)];
    assert_eq!(kinds, expected.map(|(kind, amount)| (kind.to_owned(), d(amount))), "expiry, then the transfer");
}

/// A run stops taking movements when one more might not finish before Lambda's deadline; the
/// rest stay scheduled and the next run expires them.
#[tokio::test]
async fn a_sweep_short_of_time_leaves_the_rest_for_the_next_run() {
    let local = LocalLedger::new().await;
    let (a, b) = (wallet(&local, "a").await, wallet(&local, "b").await);
    movement(&local, MovementKind::Deposit, "", &a, 100).await;
    for _ in 0..3 {
        movement(&local, MovementKind::QuasiTransfer, &a, &b, 10).await;
    }
    local.clock.advance_ms(HOUR_MS);
    let no_time = sweeper::sweep(&local.wallets, "t1", SystemTime::now()).await.unwrap();
    assert_eq!((no_time.expired, no_time.more), (0, true), "out of time before the first");
    assert_eq!(pockets(&local, &a).await, (d(70), d(0), d(30)), "nothing moved");
    let swept = sweeper::sweep(&local.wallets, "t2", in_a_minute()).await.unwrap();
    assert_eq!((swept.expired, swept.more), (3, false));
    assert_eq!(pockets(&local, &a).await, (d(100), d(0), d(0)));
}
