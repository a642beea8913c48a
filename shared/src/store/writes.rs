//! The conditional writes beside a balance's own changes: new balances and wallets, a direct
//! debit's claim, an order's status, a movement's record. Each commits on its own or inside a
//! balance's commit, and a failed condition comes back as a [`Refused`] naming what failed,
//! never as DynamoDB's cancellation reasons.

use super::balances::new_head_item;
use super::customer_wallets::{claim_items, Claim, ClaimRefused};
use super::idempotency::{self, IdempotencyRecord, IdempotencyWrite};
use super::movements::{movement_resolution, new_movement_item_count, new_movement_items, new_transaction_item};
use super::orders::{new_order_items, order_change, order_from_item, order_transition};
use super::queue::settle_items;
use super::wallets::{new_item, new_wallet_items};
use super::StoreError;
use crate::domain::balance::Balance;
use crate::domain::movements::Movement;
use crate::domain::names::{BalanceId, IdempotencyKey, ProjectId};
use crate::domain::orders::Order;
use crate::domain::queue::{Settled, Ticket};
use crate::domain::time::Millis;
use crate::domain::transactions::Transaction;
use crate::domain::wallet_accounts::PaymentStatus;
use crate::domain::wallets::Wallet;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

#[derive(Debug, Clone)]
pub enum Write {
    /// A new plain balance: its head.
    NewBalance(Balance),
    /// A new wallet: its head, its index item and its foreign id.
    NewWallet(Wallet),
    /// A direct debit's claim on a token and an order id.
    Claim(Claim),
    /// A new order (not paid yet): the order and its place in the project's list.
    NewOrder(Order),
    /// An order changed from the version it was read at (an update, a refund), if nobody
    /// wrote it since.
    OrderChange { order: Order, read_version: u64 },
    /// An order moving on from `from`, if it is still there (a pending one only in its time).
    OrderTransition { order: Order, from: PaymentStatus, now: Millis },
    /// A new movement's record, its places in its lists, and in the expiry schedule.
    NewMovement { project: ProjectId, movement: Movement },
    /// A pending movement resolved as `resolved` says, leaving the expiry schedule.
    ResolveMovement { project: ProjectId, resolved: Movement },
    /// One wallet's side of a movement's step.
    NewTransaction { project: ProjectId, transaction: Transaction },
    /// A group commit's answer to a waiting ticket, replacing the ticket if it still waits.
    Settle { project: ProjectId, balance: BalanceId, ticket: Ticket, settled: Settled, now: Millis },
    /// The idempotency record of one operation of a group commit.
    Record(IdempotencyWrite),
}

/// Which condition of a write failed. Nothing of its commit was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The new item's id is taken (a balance, a wallet, a movement).
    Exists,
    /// Another wallet of the project has this foreign id.
    ForeignIdTaken,
    /// Another wallet of the project has this `mars` or `man` (drawn at random: draw again).
    NumberTaken,
    Claim(ClaimRefused),
    /// The order is no longer where the transition or change starts: as it is now, when
    /// DynamoDB sent it.
    OrderMoved(Option<Box<Order>>),
    /// The movement is no longer pending.
    NotPending,
    /// The ticket no longer waits: its waiter withdrew it (or another batch settled it).
    Withdrawn(Ticket),
    /// The key has a live record now (as DynamoDB returned it, when it did).
    KeyTaken(IdempotencyKey, Option<IdempotencyRecord>),
}

impl Write {
    /// The items it writes, out of a transaction's 100.
    pub fn items(&self) -> usize {
        match self {
            Write::NewBalance(_)
            | Write::OrderTransition { .. }
            | Write::OrderChange { .. }
            | Write::NewTransaction { .. }
            | Write::Record(_) => 1,
            Write::Settle { .. } => 2,
            Write::NewWallet(wallet) => 4 + usize::from(wallet.info.foreign_id.is_some()),
            Write::NewOrder(_) => 2,
            Write::Claim(claim) => 4 + usize::from(claim.read_version.is_none()),
            Write::NewMovement { movement, .. } => new_movement_item_count(movement),
            Write::ResolveMovement { resolved, .. } => 1 + usize::from(resolved.expires_at.is_some()),
        }
    }

    pub(super) fn transact_items(&self, table: &str) -> Result<Vec<TransactWriteItem>, StoreError> {
        match self {
            Write::NewBalance(balance) => Ok(vec![new_item(table, new_head_item(balance))?]),
            Write::NewWallet(wallet) => new_wallet_items(table, wallet),
            Write::Claim(claim) => claim_items(table, claim),
            Write::NewOrder(order) => new_order_items(table, order),
            Write::OrderChange { order, read_version } => Ok(vec![order_change(table, order, *read_version)?]),
            Write::OrderTransition { order, from, now } => Ok(vec![order_transition(table, order, *from, *now)?]),
            Write::NewMovement { project, movement } => new_movement_items(table, project, movement),
            Write::Settle { project, balance, ticket, settled, now } => {
                settle_items(table, project, *balance, ticket, settled, *now)
            }
            Write::Record(record) => Ok(vec![idempotency::put(table, record)?]),
            Write::ResolveMovement { project, resolved } => movement_resolution(table, project, resolved),
            Write::NewTransaction { project, transaction } => {
                Ok(vec![new_transaction_item(table, project, transaction)?])
            }
        }
    }

    /// What failed, from the cancellation reasons of its own items (in their order).
    pub(super) fn refused(&self, reasons: &[CancellationReason]) -> Result<Option<Refused>, StoreError> {
        let failed = |index: usize| reasons.get(index).is_some_and(|r| r.code() == Some("ConditionalCheckFailed"));
        Ok(match self {
            Write::NewBalance(_) | Write::NewMovement { .. } | Write::NewTransaction { .. } => {
                failed(0).then_some(Refused::Exists)
            }
            Write::NewWallet(_) if failed(0) || failed(1) => Some(Refused::Exists),
            Write::NewWallet(_) if failed(2) || failed(3) => Some(Refused::NumberTaken),
            Write::NewWallet(_) => failed(4).then_some(Refused::ForeignIdTaken),
            Write::Claim(_) => ClaimRefused::from_reasons(reasons)?.map(Refused::Claim),
            Write::NewOrder(_) => (failed(0) || failed(1)).then_some(Refused::Exists),
            Write::OrderTransition { .. } | Write::OrderChange { .. } if failed(0) => {
                let order = reasons.first().and_then(|r| r.item.as_ref()).map(order_from_item).transpose()?;
                Some(Refused::OrderMoved(order.map(Box::new)))
            }
            Write::OrderTransition { .. } | Write::OrderChange { .. } => None,
            Write::ResolveMovement { .. } => failed(0).then_some(Refused::NotPending),
            Write::Settle { ticket, .. } => failed(0).then(|| Refused::Withdrawn(ticket.clone())),
            Write::Record(record) => match reasons.first().filter(|_| failed(0)) {
                Some(reason) => Some(Refused::KeyTaken(record.key.clone(), idempotency::from_reason(reason)?)),
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::balance::NewBalance;
    use crate::domain::money::{Amount, MinLimit};
    use crate::domain::movements::{MovementKind, MovementStatus};
    use crate::domain::names::{BalanceId, BalanceName, BalanceType, UpdateToken};
    use crate::domain::orders::{OrderDetails, OrderUid};
    use crate::domain::wallet_accounts::{
        CustomerId, Gateway, OrderId, PaymentAmount, TokenGrant, TxnId, WalletAccountId,
    };
    use crate::domain::wallet_numbers::WalletNumbers;
    use crate::domain::wallets::{ForeignId, WalletInfo};
    use rust_decimal::Decimal;
    use uuid::Uuid;

    #[test]
    fn every_write_counts_the_items_it_writes() {
        let project = ProjectId::parse("p").unwrap();
        let now = Millis::from_epoch_ms(1);
        let balance = Balance::open(
            NewBalance {
                project_id: project.clone(),
                id: BalanceId::new(Uuid::from_u128(1)),
                balance_type: BalanceType::xof(),
                name: BalanceName::from_type(&BalanceType::xof()),
                min_limit: MinLimit::ZERO,
            },
            now,
            UpdateToken::new(Uuid::nil()),
        );
        let mut info = WalletInfo::main(None, WalletNumbers::of(BalanceId::new(Uuid::from_u128(1)), 0));
        let wallet = |info: &WalletInfo| Wallet { info: info.clone(), balance: balance.clone() };
        let plain = wallet(&info);
        info.foreign_id = Some(ForeignId::parse("shop-1").unwrap());
        let created = Order::created(
            &project,
            OrderId::parse("o1").unwrap(),
            OrderUid::from_random([9; 16]),
            PaymentAmount::new(Decimal::ONE).unwrap(),
            OrderDetails::default(),
            now,
        );
        let grant = TokenGrant {
            customer: CustomerId::parse("c1").unwrap(),
            wallet_id: WalletAccountId::from_random([2; 16]),
            gateway: Gateway::Paytm,
            link_version: 1,
            reference: "r".into(),
            expires_at: now,
            used: false,
        };
        let order = created.clone().placed(TxnId::from_random([1; 16]), &grant, now);
        let mut movement = Movement {
            id: Uuid::from_u128(3),
            kind: MovementKind::QuasiTransfer,
            source: Some(balance.id),
            destination: Some(BalanceId::new(Uuid::from_u128(4))),
            origin: None,
            locks_in: true,
            amount: Amount::new(Decimal::ONE).unwrap(),
            balance_type: BalanceType::xof(),
            foreign_id: None,
            notes: Default::default(),
            creator_key_id: None,
            status: MovementStatus::Processing,
            expires_at: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        let mut writes = vec![
            Write::NewBalance(balance.clone()),
            Write::NewWallet(plain),
            Write::NewWallet(wallet(&info)),
            Write::NewOrder(created.clone()),
            Write::OrderChange { order: created, read_version: 0 },
            Write::Claim(Claim {
                token_hash: "h".into(),
                link_version: 1,
                order: order.clone(),
                read_version: None,
                now,
            }),
            Write::Claim(Claim {
                token_hash: "h".into(),
                link_version: 1,
                order: order.clone(),
                read_version: Some(0),
                now,
            }),
            Write::OrderTransition { order, from: PaymentStatus::PendingVbv, now },
        ];
        for (expires_at, reference) in [(None, None), (Some(now), Some("order-1"))] {
            movement.expires_at = expires_at;
            movement.foreign_id = reference.map(|r| crate::domain::movements::Reference::parse(r).unwrap());
            writes.push(Write::NewMovement { project: project.clone(), movement: movement.clone() });
            let resolved = Movement { status: MovementStatus::Successful, ..movement.clone() };
            writes.push(Write::ResolveMovement { project: project.clone(), resolved });
        }
        for write in writes {
            assert_eq!(write.transact_items("t").unwrap().len(), write.items(), "{write:?}");
        }
    }
}
