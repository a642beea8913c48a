//! Packing a step's planned changes into DynamoDB transactions (at most 100 items each): pure,
//! so the engine commits what this decides.
//!
//! Each leg's changes are written in order, each in exactly one transaction, with the leg's
//! head in every transaction that carries any of them. The *joint* transaction holds every
//! leg's own change (`Plan::operation`), the idempotency record and the step's other writes:
//! the step lands whole or not at all. Before it, a leg's due maintenance is packed greedily
//! from the front; the last run of it rides in the joint transaction when it fits. After it,
//! the changes that only settle credits fill the joint transaction's room, then transactions
//! of their own. For one leg this is simply greedy packing from the front.

use super::ledger::Plan;
use std::ops::Range;

/// DynamoDB's limit on items in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// One transaction: for each leg it touches, the run of that leg's changes it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub parts: Vec<(usize, Range<usize>)>,
    /// The transaction with every leg's own change, the record and the other writes.
    pub joint: bool,
}

/// Items of a run of changes, its head included.
fn cost(plan: &Plan, range: Range<usize>) -> usize {
    1 + plan.changes[range].iter().map(|change| change.items()).sum::<usize>()
}

/// Greedy runs over `range` of one leg's changes, each fitting a transaction of its own.
fn runs(plan: &Plan, range: Range<usize>) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = range.start;
    for index in range.clone() {
        if index > start && cost(plan, start..index + 1) > MAX_TRANSACTION_ITEMS {
            runs.push(start..index);
            start = index;
        }
    }
    if start < range.end {
        runs.push(start..range.end);
    }
    runs
}

/// The transactions, in the order they are to be committed. `joint_items`: the items the
/// joint transaction carries besides the legs' changes and heads.
pub fn pack(plans: &[Plan], joint_items: usize) -> Vec<Txn> {
    let single = |leg: usize, range: Range<usize>| Txn { parts: vec![(leg, range)], joint: false };
    let mut before = Vec::new();
    let mut after = Vec::new();
    let joint_legs: Vec<(usize, usize)> =
        plans.iter().enumerate().filter_map(|(leg, plan)| Some((leg, plan.operation?))).collect();
    let mut used = joint_items + joint_legs.iter().map(|&(leg, own)| cost(&plans[leg], own..own + 1)).sum::<usize>();
    let mut joint = Vec::new();
    for (leg, plan) in plans.iter().enumerate() {
        let Some(own) = plan.operation else {
            before.extend(runs(plan, 0..plan.changes.len()).into_iter().map(|run| single(leg, run)));
            continue;
        };
        let mut prefix = runs(plan, 0..own);
        let mut start = own;
        if let Some(last) = prefix.last().cloned() {
            if used + cost(plan, last.clone()) - 1 <= MAX_TRANSACTION_ITEMS {
                used += cost(plan, last.clone()) - 1;
                start = last.start;
                prefix.pop();
            }
        }
        before.extend(prefix.into_iter().map(|run| single(leg, run)));
        let mut end = own + 1;
        while end < plan.changes.len() && used + plan.changes[end].items() <= MAX_TRANSACTION_ITEMS {
            used += plan.changes[end].items();
            end += 1;
        }
        joint.push((leg, start..end));
        after.extend(runs(plan, end..plan.changes.len()).into_iter().map(|run| single(leg, run)));
    }
    if !joint.is_empty() {
        before.push(Txn { parts: joint, joint: true });
    }
    before.extend(after);
    before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::balance::{Balance, Lot, NewBalance};
    use crate::domain::ledger::{Change, LotChange};
    use crate::domain::money::MinLimit;
    use crate::domain::names::{BalanceId, BalanceName, BalanceType, ProjectId, TxId, UpdateToken};
    use crate::domain::time::Millis;
    use rust_decimal::Decimal;
    use uuid::Uuid;

    /// A change writing `items` items besides the head.
    fn change(items: usize) -> Change {
        let balance = Balance::open(
            NewBalance {
                project_id: ProjectId::parse("p").unwrap(),
                id: BalanceId::new(Uuid::nil()),
                balance_type: BalanceType::xof(),
                name: BalanceName::from_type(&BalanceType::xof()),
                min_limit: MinLimit::ZERO,
            },
            Millis::from_epoch_ms(0),
            UpdateToken::new(Uuid::nil()),
        );
        let lot = Lot {
            seq: 1,
            tx_id: TxId::new(Uuid::nil()),
            expires_at: Millis::from_epoch_ms(0),
            remaining: Decimal::ONE,
        };
        Change { entry: None, lots: vec![LotChange::Remove(lot); items], after: balance }
    }

    fn plan(items: &[usize], operation: Option<usize>) -> Plan {
        Plan { changes: items.iter().map(|&n| change(n)).collect(), operation }
    }

    type Parts = Vec<(Vec<(usize, Range<usize>)>, bool)>;

    fn parts(txns: &[Txn]) -> Parts {
        txns.iter().map(|t| (t.parts.clone(), t.joint)).collect()
    }

    #[test]
    fn one_leg_packs_greedily_from_the_front() {
        // Maintenance of 70 and 30 items, the operation (2), then settling of 40 and 40.
        let txns = pack(&[plan(&[70, 30, 2, 40, 40], Some(2))], 1);
        assert_eq!(
            parts(&txns),
            vec![(vec![(0, 0..1)], false), (vec![(0, 1..4)], true), (vec![(0, 4..5)], false)],
            "61; then 1 + 30 + 2 + 1 record + 40 = 74; then 41"
        );
        // Everything fits one transaction.
        assert_eq!(parts(&pack(&[plan(&[3, 2], Some(1))], 1)), vec![(vec![(0, 0..2)], true)]);
    }

    #[test]
    fn a_step_without_an_own_change_is_only_its_maintenance() {
        assert_eq!(parts(&pack(&[plan(&[99, 1], None)], 0)), vec![(vec![(0, 0..1)], false), (vec![(0, 1..2)], false)]);
        assert!(pack(&[plan(&[], None)], 0).is_empty());
    }

    #[test]
    fn the_joint_transaction_holds_every_legs_own_change_and_room_for_maintenance() {
        // Two legs; the second has maintenance that fits beside the step.
        let txns = pack(&[plan(&[1], Some(0)), plan(&[5, 1], Some(1))], 2);
        assert_eq!(parts(&txns), vec![(vec![(0, 0..1), (1, 0..2)], true)]);
        // Maintenance too big to ride along goes first, on its own.
        let txns = pack(&[plan(&[1], Some(0)), plan(&[97, 1], Some(1))], 2);
        assert_eq!(parts(&txns), vec![(vec![(1, 0..1)], false), (vec![(0, 0..1), (1, 1..2)], true)]);
        for txn in &txns {
            let plans = [plan(&[1], Some(0)), plan(&[97, 1], Some(1))];
            let items: usize = txn.parts.iter().map(|(leg, r)| cost(&plans[*leg], r.clone())).sum();
            assert!(items + if txn.joint { 2 } else { 0 } <= MAX_TRANSACTION_ITEMS);
        }
    }
}
