//! Property tests of the ledger planner against a naive model of the same rules.
//!
//! The planner's changes are applied to an in-memory copy of what DynamoDB would hold
//! (head, credit items, history), one change at a time, checking after every change — i.e. at
//! every point where a crash could cut a request short — that the state is consistent.

use pocketbook::domain::balance::{Balance, Lot, NewBalance};
use pocketbook::domain::checksum;
use pocketbook::domain::entry::{Entry, EntryKind};
use pocketbook::domain::ledger::{self, Ids, LotChange, LotsView, PlanError};
use pocketbook::domain::money::{Amount, MinLimit};
use pocketbook::domain::names::{BalanceId, BalanceName, BalanceType, ProjectId, TxId, UpdateToken};
use pocketbook::domain::operation::{Operation, OperationRequest, Rejection, TtlSeconds};
use pocketbook::domain::time::Millis;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

struct CountingIds(u64);

impl CountingIds {
    fn uuid(&mut self) -> uuid::Uuid {
        self.0 += 1;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.0.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl Ids for CountingIds {
    fn tx_id(&mut self) -> TxId {
        TxId::new(self.uuid())
    }
    fn update_token(&mut self) -> UpdateToken {
        UpdateToken::new(self.uuid())
    }
    fn session(&mut self) -> String {
        self.uuid().to_string()
    }
}

/// What the table would hold for one balance.
struct Stored {
    head: Balance,
    lots: BTreeMap<(Millis, u64), Lot>,
    history: Vec<Entry>,
}

impl Stored {
    fn new(min_limit: Decimal) -> Self {
        let mut ids = CountingIds(1_000_000);
        let head = Balance::open(
            NewBalance {
                project_id: ProjectId::parse("p").unwrap(),
                id: BalanceId::new(ids.uuid()),
                balance_type: BalanceType::parse("PTS").unwrap(),
                name: BalanceName::parse("points").unwrap(),
                min_limit: MinLimit::new(min_limit).unwrap(),
            },
            Millis::from_epoch_ms(0),
            UpdateToken::new(ids.uuid()),
        );
        Self { head, lots: BTreeMap::new(), history: Vec::new() }
    }

    fn apply(&mut self, change: &ledger::Change) {
        for lot_change in &change.lots {
            match lot_change {
                LotChange::Create(lot) => {
                    assert!(self.lots.insert((lot.expires_at, lot.seq), lot.clone()).is_none());
                }
                LotChange::Reduce { lot, previous } => {
                    let stored = self.lots.get_mut(&(lot.expires_at, lot.seq)).expect("reduced credit exists");
                    assert_eq!(&stored.remaining, previous, "condition on the credit's remaining amount");
                    assert!(lot.remaining > Decimal::ZERO && lot.remaining < *previous);
                    *stored = lot.clone();
                }
                LotChange::Remove(lot) => {
                    let stored = self.lots.remove(&(lot.expires_at, lot.seq)).expect("removed credit exists");
                    assert_eq!(stored.remaining, lot.remaining, "condition on the credit's remaining amount");
                }
            }
        }
        if let Some(entry) = &change.entry {
            assert_eq!(entry.seq, self.history.len() as u64 + 1);
            self.history.push(entry.clone());
        }
        self.head = change.after.clone();
        self.check_consistent();
    }

    fn check_consistent(&self) {
        let head = &self.head;
        let signed: Decimal =
            self.history.iter().map(|e| if e.kind == EntryKind::Inc { e.amount } else { -e.amount }).sum();
        assert_eq!(signed, head.amount, "conservation: the history sums to the balance");
        assert!(head.amount >= head.min_limit.value(), "the minimum limit is never crossed");
        assert_eq!(head.transactions_count, self.history.len() as u64);
        let in_lots: Decimal = self.lots.values().map(|lot| lot.remaining).sum();
        assert_eq!(in_lots, head.credits.live + head.credits.debt, "credit items = live + debt");
        assert!(self.lots.values().all(|lot| lot.remaining > Decimal::ZERO));
        assert!(
            head.amount - head.credits.live >= head.min_limit.value(),
            "the part that never expires respects the limit"
        );
        if head.credits.debt.is_zero() {
            assert_eq!(head.credits.next_expiry, self.lots.keys().next().map(|(at, _)| *at));
        }
        assert_eq!(checksum::verify(head.id, &self.history, &head.checksum), Ok(self.history.len() as u64));
    }

    /// Runs the planner the way the service does: load credit pages until it has enough.
    fn run(
        &mut self,
        now: Millis,
        request: Option<&OperationRequest>,
        page: usize,
        ids: &mut CountingIds,
    ) -> Result<(), Rejection> {
        let all: Vec<Lot> = self.lots.values().cloned().collect();
        let operation = request.map(|r| &r.operation);
        // Exactly as the service does: nothing is read unless `needs_lots` says so, and what
        // was never read cannot be known to be complete.
        let (mut loaded, mut complete) = (0, false);
        if ledger::needs_lots(&self.head, now, operation) {
            loaded = page.min(all.len());
            complete = loaded == all.len();
        }
        loop {
            let view = LotsView { lots: &all[..loaded], complete };
            match ledger::plan(&self.head, view, now, request, ids) {
                Ok(plan) => {
                    for change in &plan.changes {
                        self.apply(change);
                    }
                    return Ok(());
                }
                Err(PlanError::NeedMoreLots) => {
                    assert!(
                        ledger::needs_lots(&self.head, now, operation),
                        "needs_lots said no credits were needed, then the plan asked for some"
                    );
                    assert!(!complete, "asked for more credits than exist");
                    loaded = (loaded + page).min(all.len());
                    complete = loaded == all.len();
                }
                Err(PlanError::Rejected { rejection, maintenance }) => {
                    for change in &maintenance {
                        self.apply(change);
                    }
                    return Err(rejection);
                }
                Err(PlanError::Inconsistent(why)) => panic!("inconsistent: {why}"),
            }
        }
    }
}

/// The rules stated plainly: credits are a list, consumed soonest-expiring first.
#[derive(Default)]
struct Model {
    never_expiring: Decimal,
    credits: Vec<(Millis, u64, Decimal)>,
    expiries: Vec<(u64, Decimal, Millis)>,
    next_seq: u64,
}

impl Model {
    fn expire(&mut self, now: Millis) {
        self.credits.sort_by_key(|(at, seq, _)| (*at, *seq));
        let (expired, live): (Vec<_>, Vec<_>) = self.credits.iter().partition(|(at, _, _)| *at <= now);
        for (at, seq, left) in expired {
            if left > Decimal::ZERO {
                self.next_seq += 1;
                self.expiries.push((seq, left, at));
            }
        }
        self.credits = live;
    }

    fn total(&self) -> Decimal {
        self.never_expiring + self.credits.iter().map(|c| c.2).sum::<Decimal>()
    }

    fn apply(&mut self, now: Millis, op: &Step, min_limit: Decimal) -> Result<(), Rejection> {
        self.expire(now);
        match *op {
            Step::Inc { amount, ttl } => {
                self.next_seq += 1;
                match ttl {
                    Some(ttl) => self.credits.push((now.plus_seconds(ttl), self.next_seq, amount)),
                    None => self.never_expiring += amount,
                }
            }
            Step::Dec { amount } => {
                if self.total() - amount < min_limit {
                    return Err(Rejection::InsufficientFunds);
                }
                self.next_seq += 1;
                let mut left = amount;
                for credit in self.credits.iter_mut() {
                    let take = credit.2.min(left);
                    credit.2 -= take;
                    left -= take;
                }
                self.credits.retain(|c| c.2 > Decimal::ZERO);
                self.never_expiring -= left;
            }
            Step::Wait { .. } => {}
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Step {
    Inc { amount: Decimal, ttl: Option<i64> },
    Dec { amount: Decimal },
    Wait { seconds: i64 },
}

fn amount() -> impl Strategy<Value = Decimal> {
    (1i64..5_000, 0u32..=2).prop_map(|(units, scale)| Decimal::new(units, scale))
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (amount(), proptest::option::of(1i64..50)).prop_map(|(amount, ttl)| Step::Inc { amount, ttl }),
        2 => amount().prop_map(|amount| Step::Dec { amount }),
        1 => (1i64..30).prop_map(|seconds| Step::Wait { seconds }),
    ]
}

fn run_scenario(steps: &[Step], min_limit: Decimal, page: usize) {
    let mut stored = Stored::new(min_limit);
    let mut model = Model::default();
    let mut ids = CountingIds(0);
    let mut now = Millis::from_epoch_ms(1_000);
    for (i, step) in steps.iter().enumerate() {
        now = now.plus_ms(1);
        let request = match *step {
            Step::Inc { amount, ttl } => Some(Operation::Inc {
                amount: Amount::new(amount).unwrap(),
                ttl: ttl.map(|s| TtlSeconds::new(s as u64).unwrap()),
            }),
            Step::Dec { amount } => Some(Operation::Dec { amount: Amount::new(amount).unwrap() }),
            Step::Wait { seconds } => {
                now = now.plus_seconds(seconds);
                None
            }
        }
        .map(|operation| OperationRequest {
            operation,
            subject: None,
            update_token: None,
            session: format!("step-{i}"),
        });
        let expected = model.apply(now, step, min_limit);
        let actual = stored.run(now, request.as_ref(), page, &mut ids);
        if request.is_some() {
            assert_eq!(actual, expected, "step {i}: {step:?}");
        }
        assert_eq!(stored.head.amount, model.total(), "step {i}: balance matches the model");
    }
    // Expiry entries: same credits, same amounts, dated at the credit's expiry.
    let by_id: BTreeMap<String, u64> = stored.history.iter().map(|e| (e.id.to_string(), e.seq)).collect();
    let expiries: Vec<(u64, Decimal, Millis)> = stored
        .history
        .iter()
        .filter_map(|e| e.main_tx_id.map(|main| (by_id[&main.to_string()], e.amount, e.created_at)))
        .collect();
    let model_expiries: Vec<(u64, Decimal, Millis)> = model.expiries.clone();
    assert_eq!(expiries.len(), model_expiries.len(), "one expiry entry per expired credit with something left");
    for ((seq, amount, at), (_, model_amount, model_at)) in expiries.iter().zip(model_expiries.iter()) {
        assert_eq!((amount, at), (model_amount, model_at), "expiry of the INC at seq {seq}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_planner_agrees_with_the_model_and_stays_consistent_at_every_change(
        steps in proptest::collection::vec(step(), 1..60),
        min_limit in prop_oneof![Just(Decimal::ZERO), (1i64..2_000).prop_map(|v| Decimal::new(-v, 0))],
        page in 1usize..5,
    ) {
        run_scenario(&steps, min_limit, page);
    }
}

#[test]
fn a_dec_spanning_more_credits_than_a_transaction_holds_is_planned_as_one_entry_and_settlements() {
    let mut steps: Vec<Step> = (0..250).map(|i| Step::Inc { amount: Decimal::ONE, ttl: Some(100 + i) }).collect();
    steps.push(Step::Dec { amount: Decimal::new(2205, 1) });
    run_scenario(&steps, Decimal::ZERO, 40);

    // And directly: the DEC's own change holds at most 97 credit changes.
    let mut stored = Stored::new(Decimal::ZERO);
    let mut ids = CountingIds(0);
    let now = Millis::from_epoch_ms(10);
    for i in 0..150 {
        let inc = OperationRequest {
            operation: Operation::Inc { amount: Amount::new(Decimal::ONE).unwrap(), ttl: TtlSeconds::new(1_000 + i) },
            subject: None,
            update_token: None,
            session: "s".into(),
        };
        stored.run(now, Some(&inc), 1000, &mut ids).unwrap();
    }
    let dec = OperationRequest {
        operation: Operation::Dec { amount: Amount::new(Decimal::from(120)).unwrap() },
        subject: None,
        update_token: None,
        session: "s".into(),
    };
    let all: Vec<Lot> = stored.lots.values().cloned().collect();
    let plan = ledger::plan(&stored.head, LotsView { lots: &all, complete: true }, now, Some(&dec), &mut ids).unwrap();
    let op = plan.operation_change().unwrap();
    assert_eq!(op.lots.len(), ledger::MAX_LOT_CHANGES_PER_OPERATION);
    assert_eq!(op.after.credits.debt, Decimal::from(23));
    assert_eq!(op.after.amount, Decimal::from(30));
    assert_eq!(plan.changes.len(), 1 + 23);
}

#[test]
fn expired_credits_leave_through_entries_dated_at_their_expiry() {
    let mut stored = Stored::new(Decimal::ZERO);
    let mut ids = CountingIds(0);
    let inc = |amount: i64, ttl: Option<u64>| OperationRequest {
        operation: Operation::Inc {
            amount: Amount::new(Decimal::from(amount)).unwrap(),
            ttl: ttl.and_then(TtlSeconds::new),
        },
        subject: None,
        update_token: None,
        session: "s".into(),
    };
    let t0 = Millis::from_epoch_ms(1_000);
    stored.run(t0, Some(&inc(10, Some(5))), 10, &mut ids).unwrap();
    stored.run(t0, Some(&inc(7, None)), 10, &mut ids).unwrap();
    let dec = OperationRequest {
        operation: Operation::Dec { amount: Amount::new(Decimal::from(4)).unwrap() },
        subject: None,
        update_token: None,
        session: "s".into(),
    };
    stored.run(t0, Some(&dec), 10, &mut ids).unwrap();
    assert_eq!(stored.head.credits.live, Decimal::from(6), "the DEC took from the expiring credit first");
    assert_eq!(stored.head.credits.next_expiry, Some(t0.plus_seconds(5)));

    stored.run(t0.plus_seconds(5), None, 10, &mut ids).unwrap();
    let expiry = stored.history.last().unwrap();
    assert_eq!(expiry.kind, EntryKind::Dec);
    assert_eq!(expiry.amount, Decimal::from(6));
    assert_eq!(expiry.created_at, t0.plus_seconds(5));
    assert_eq!(expiry.main_tx_id, Some(stored.history[0].id));
    assert_eq!(stored.head.amount, Decimal::from(7));
    assert_eq!(stored.head.credits.next_expiry, None);
}
