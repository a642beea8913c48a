//! Planning changes to a balance: expiring credits, settling, and applying INC/DEC.
//!
//! The planner is pure. Given the head, a prefix of the credit items (soonest expiry first)
//! and the time, it returns a list of [`Change`]s. Each change is one consistent step — its
//! `after` is the head once the step is written — and is never split across DynamoDB
//! transactions; [`super::packing`] packs consecutive changes into as few transactions as fit.
//! A step of several balances plans each as a [`Leg`] ([`plan_leg`]).
//!
//! Order of work, every time: first settle any debt left by an earlier oversized DEC, then
//! write an expiry entry for every credit that has expired, then the requested operation.

use super::balance::{Balance, Lot};
use super::entry::{Entry, EntryKind};
use super::money;
use super::names::{BalanceId, TxId, UpdateToken};
use super::operation::{Operation, OperationRequest, Rejection};
use super::time::Millis;
use rust_decimal::Decimal;

/// DynamoDB transactions hold 100 items: the head, the history entry and the idempotency
/// record leave 97 for the credits one operation consumes. A DEC that spans more records
/// the excess as debt and settles it in the following transactions.
pub const MAX_LOT_CHANGES_PER_OPERATION: usize = 97;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LotChange {
    Create(Lot),
    /// `lot` holds the new remaining amount; `previous` what the item holds now.
    Reduce {
        lot: Lot,
        previous: Decimal,
    },
    /// `lot` as the item holds it now.
    Remove(Lot),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub entry: Option<Entry>,
    pub lots: Vec<LotChange>,
    pub after: Balance,
}

impl Change {
    /// DynamoDB items this change writes besides the head.
    pub fn items(&self) -> usize {
        usize::from(self.entry.is_some()) + self.lots.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Which change carries the requested operation (absent for maintenance only).
    pub operation: Option<usize>,
}

impl Plan {
    pub fn operation_change(&self) -> Option<&Change> {
        self.operation.and_then(|index| self.changes.get(index))
    }
}

/// What one step does to one balance: an operation (with its history entry), changes to its
/// locked pockets, or neither (the leg only writes what is due, or takes part in a step that
/// moves nothing on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub balance: BalanceId,
    pub operation: Option<OperationRequest>,
    /// Added to the pockets (negative: released).
    pub locked_in: Decimal,
    pub locked_out: Decimal,
}

impl Leg {
    pub fn operation(balance: BalanceId, request: OperationRequest) -> Self {
        Self { balance, operation: Some(request), locked_in: Decimal::ZERO, locked_out: Decimal::ZERO }
    }

    /// A leg that writes only what is due (or, in a step of several, only fences its head).
    pub fn maintenance(balance: BalanceId) -> Self {
        Self { balance, operation: None, locked_in: Decimal::ZERO, locked_out: Decimal::ZERO }
    }

    /// Whether it changes the balance beyond what is due.
    pub fn acts(&self) -> bool {
        self.operation.is_some() || self.moves_pockets()
    }

    fn moves_pockets(&self) -> bool {
        !self.locked_in.is_zero() || !self.locked_out.is_zero()
    }
}

/// The credit items loaded so far, soonest expiry first.
#[derive(Debug, Clone, Copy)]
pub struct LotsView<'a> {
    pub lots: &'a [Lot],
    /// True when `lots` holds every credit item of the balance.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("more credit items are needed")]
    NeedMoreLots,
    /// The operation was refused; `maintenance` (expiry, settling) is still due and valid.
    #[error("{rejection}")]
    Rejected { rejection: Rejection, maintenance: Vec<Change> },
    #[error("stored state is inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// Fresh identifiers for what the planner writes. Injected so that planning stays pure.
pub trait Ids {
    fn tx_id(&mut self) -> TxId;
    fn update_token(&mut self) -> UpdateToken;
    /// The `session` of system-written entries (expiries).
    fn session(&mut self) -> String;
}

/// Whether planning will need credit items at all (most operations don't).
pub fn needs_lots(balance: &Balance, now: Millis, operation: Option<&Operation>) -> bool {
    balance.credits.debt > Decimal::ZERO
        || balance.expiry_due(now)
        || (matches!(operation, Some(Operation::Dec { .. })) && balance.credits.live > Decimal::ZERO)
}

pub fn plan(
    balance: &Balance,
    lots: LotsView<'_>,
    now: Millis,
    request: Option<&OperationRequest>,
    ids: &mut dyn Ids,
) -> Result<Plan, PlanError> {
    plan_within(balance, lots, now, request, ids, MAX_LOT_CHANGES_PER_OPERATION)
}

/// [`plan`], with the operation's own change touching at most `lot_budget` credit items: a
/// transaction that carries other balances' changes too has less room for them.
pub fn plan_within(
    balance: &Balance,
    lots: LotsView<'_>,
    now: Millis,
    request: Option<&OperationRequest>,
    ids: &mut dyn Ids,
    lot_budget: usize,
) -> Result<Plan, PlanError> {
    let mut planner = Planner::due(balance, lots, now, ids, lot_budget)?;
    let Some(request) = request else {
        return Ok(Plan { changes: planner.changes, operation: None });
    };
    match planner.apply(request) {
        Ok(index) => Ok(Plan { changes: planner.changes, operation: Some(index) }),
        Err(Refusal::Rejected(rejection)) => Err(PlanError::Rejected { rejection, maintenance: planner.changes }),
        Err(Refusal::Plan(error)) => Err(error),
    }
}

/// [`plan_within`] for one leg of a step. With `joint` (the step has anything of its own) the
/// plan's `operation` is the leg's own change, the one that commits with the other legs': the
/// operation's, or for a leg without one a change of the head alone after what was due. Its
/// pocket changes go on that change and the ones after it. A release that would take a pocket
/// below zero is refused: the movement it releases was resolved by a racing request (whose
/// commit released it first) after the caller read it as pending.
pub fn plan_leg(
    balance: &Balance,
    lots: LotsView<'_>,
    now: Millis,
    leg: &Leg,
    joint: bool,
    ids: &mut dyn Ids,
    lot_budget: usize,
) -> Result<Plan, PlanError> {
    let mut plan = plan_within(balance, lots, now, leg.operation.as_ref(), ids, lot_budget)?;
    if !joint {
        return Ok(plan);
    }
    let own = match plan.operation {
        Some(own) => own,
        None => {
            let after = plan.changes.last().map_or(balance, |change| &change.after).clone();
            plan.changes.push(Change { entry: None, lots: Vec::new(), after });
            plan.changes.len() - 1
        }
    };
    let moves_pockets = leg.moves_pockets();
    for change in &mut plan.changes[own..] {
        let pockets = &mut change.after.pockets;
        pockets.locked_in += leg.locked_in;
        pockets.locked_out += leg.locked_out;
        if pockets.locked_in < Decimal::ZERO || pockets.locked_out < Decimal::ZERO {
            plan.changes.truncate(own);
            return Err(PlanError::Rejected { rejection: Rejection::LockedShort, maintenance: plan.changes });
        }
        if moves_pockets && leg.operation.is_none() {
            change.after.updated_at = now;
        }
    }
    plan.operation = Some(own);
    Ok(plan)
}

/// A group commit's plan of several operations on one balance: one run of changes, and for
/// each operation planned the index of its change or its refusal. `outcomes` may be shorter
/// than the requests: planning stops before an operation it cannot plan safely here (after a
/// credit it created lies beyond the credits loaded), and the rest wait for the next batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    pub changes: Vec<Change>,
    pub outcomes: Vec<Result<usize, Rejection>>,
}

/// Plans `requests` in order on one balance: first what is due (debt, expiries), then each
/// operation checked alone — update token, minimum limit, range — against the balance as the
/// operations before it left it, exactly as if each had taken the lock in turn. A refused
/// operation changes nothing.
pub fn plan_batch(
    balance: &Balance,
    lots: LotsView<'_>,
    now: Millis,
    requests: &[&OperationRequest],
    ids: &mut dyn Ids,
    lot_budget: usize,
) -> Result<BatchPlan, PlanError> {
    let mut planner = Planner::due(balance, lots, now, ids, lot_budget)?;
    let mut outcomes = Vec::with_capacity(requests.len());
    for request in requests {
        planner.settle_debt()?;
        match planner.apply(request) {
            Ok(index) => {
                outcomes.push(Ok(index));
                let created = planner.changes[index].lots.iter().find_map(|change| match change {
                    LotChange::Create(lot) => Some(lot.clone()),
                    _ => None,
                });
                // Later operations of the batch may take from the new credit: it joins the
                // working copy in expiry order, unless it sorts after credits not loaded.
                if let Some(lot) = created {
                    if !planner.insert_lot(lot) {
                        break;
                    }
                }
            }
            Err(Refusal::Rejected(rejection)) => outcomes.push(Err(rejection)),
            Err(Refusal::Plan(error)) => return Err(error),
        }
    }
    Ok(BatchPlan { changes: planner.changes, outcomes })
}

/// The lot writes of consecutive changes as one transaction may hold them: at most one per
/// credit item (DynamoDB refuses a transaction that names an item twice). A credit created
/// and reduced becomes one creation; reduced twice, one reduction from the first value; used
/// up after a reduction, one removal of the item as it was; created and used up, nothing.
pub fn fold_lot_changes<'a>(changes: impl IntoIterator<Item = &'a LotChange>) -> Vec<LotChange> {
    let seq = |change: &LotChange| match change {
        LotChange::Create(lot) | LotChange::Reduce { lot, .. } | LotChange::Remove(lot) => lot.seq,
    };
    let mut folded: Vec<Option<LotChange>> = Vec::new();
    for change in changes {
        let Some(slot) = folded.iter_mut().find(|slot| slot.as_ref().is_some_and(|s| seq(s) == seq(change))) else {
            folded.push(Some(change.clone()));
            continue;
        };
        *slot = match (slot.take(), change) {
            (Some(LotChange::Create(_)), LotChange::Reduce { lot, .. }) => Some(LotChange::Create(lot.clone())),
            (Some(LotChange::Create(_)), LotChange::Remove(_)) => None,
            (Some(LotChange::Reduce { previous, .. }), LotChange::Reduce { lot, .. }) => {
                Some(LotChange::Reduce { lot: lot.clone(), previous })
            }
            (Some(LotChange::Reduce { previous, .. }), LotChange::Remove(lot)) => {
                Some(LotChange::Remove(Lot { remaining: previous, ..lot.clone() }))
            }
            // A removed credit is never touched again, nor one created twice: keep the first.
            (first, _) => first,
        };
    }
    folded.into_iter().flatten().collect()
}

enum Refusal {
    Rejected(Rejection),
    Plan(PlanError),
}

impl From<PlanError> for Refusal {
    fn from(error: PlanError) -> Self {
        Refusal::Plan(error)
    }
}

struct Planner<'a> {
    lot_budget: usize,
    current: Balance,
    /// Working copy of the loaded credits; `remaining` is updated as they are consumed.
    lots: Vec<Lot>,
    /// Index of the first credit not yet used up.
    next: usize,
    complete: bool,
    now: Millis,
    ids: &'a mut dyn Ids,
    changes: Vec<Change>,
}

impl<'a> Planner<'a> {
    /// A planner over the balance that has already planned what is due: debt, then expiries.
    fn due(
        balance: &Balance,
        lots: LotsView<'_>,
        now: Millis,
        ids: &'a mut dyn Ids,
        lot_budget: usize,
    ) -> Result<Self, PlanError> {
        let mut planner = Planner {
            lot_budget,
            current: balance.clone(),
            lots: lots.lots.to_vec(),
            next: 0,
            complete: lots.complete,
            now,
            ids,
            changes: Vec::new(),
        };
        planner.settle_debt()?;
        planner.expire()?;
        Ok(planner)
    }
    fn lot(&self, index: usize) -> Result<Option<&Lot>, PlanError> {
        match self.lots.get(index) {
            Some(lot) => Ok(Some(lot)),
            None if self.complete => Ok(None),
            None => Err(PlanError::NeedMoreLots),
        }
    }

    /// The soonest expiry among credits from `self.next` on.
    fn next_expiry(&self) -> Result<Option<Millis>, PlanError> {
        Ok(self.lot(self.next)?.map(|lot| lot.expires_at))
    }

    /// Adds a credit created by this plan to the working copy, in the store's order (expiry,
    /// then sequence). False when it would sort after credits that are not loaded: where it
    /// belongs is then unknown.
    fn insert_lot(&mut self, lot: Lot) -> bool {
        let key = |lot: &Lot| (lot.expires_at, lot.seq);
        let at = self.next + self.lots[self.next..].partition_point(|other| key(other) < key(&lot));
        if at == self.lots.len() && !self.complete {
            return false;
        }
        self.lots.insert(at, lot);
        true
    }

    /// Takes `take` from the first unused credit, returning the change for its item.
    fn consume_next(&mut self, take: Decimal) -> Result<LotChange, PlanError> {
        let index = self.next;
        let lot = self.lots.get_mut(index).ok_or(if self.complete {
            PlanError::Inconsistent("credits missing")
        } else {
            PlanError::NeedMoreLots
        })?;
        let previous = lot.remaining;
        if take >= previous {
            self.next += 1;
            Ok(LotChange::Remove(lot.clone()))
        } else {
            lot.remaining = previous - take;
            Ok(LotChange::Reduce { lot: lot.clone(), previous })
        }
    }

    fn push(&mut self, entry: Option<Entry>, lots: Vec<LotChange>) -> usize {
        self.changes.push(Change { entry, lots, after: self.current.clone() });
        self.changes.len() - 1
    }

    /// Appends an entry to the history: sequence, chain, token and time move on.
    fn entry(&mut self, draft: Draft) -> Entry {
        let seq = self.current.transactions_count + 1;
        let entry = Entry {
            seq,
            id: draft.id,
            kind: draft.kind,
            amount: draft.amount,
            created_at: draft.created_at,
            request_time: self.now,
            expired_at: draft.expired_at,
            session: draft.session,
            main_tx_id: draft.main_tx_id,
            subject: draft.subject,
            balance_after: self.current.amount,
            checksum: self.current.checksum.clone(),
        }
        .sealed(&self.current.checksum);
        self.current.transactions_count = seq;
        self.current.checksum = entry.checksum.clone();
        match entry.kind {
            EntryKind::Inc => self.current.pockets.volume_input += entry.amount,
            EntryKind::Dec => self.current.pockets.volume_output += entry.amount,
        }
        self.current.update_token = self.ids.update_token();
        self.current.updated_at = self.now;
        entry
    }

    /// Writes off, soonest credits first, what an earlier oversized DEC already took.
    fn settle_debt(&mut self) -> Result<(), PlanError> {
        while self.current.credits.debt > Decimal::ZERO {
            let available = match self.lot(self.next)? {
                Some(lot) => lot.remaining,
                None => return Err(PlanError::Inconsistent("debt without credits")),
            };
            let take = available.min(self.current.credits.debt);
            let change = self.consume_next(take)?;
            self.current.credits.debt -= take;
            self.push(None, vec![change]);
        }
        Ok(())
    }

    /// One expiry entry (type DEC, `mainTxId` = the INC) per expired credit with something left.
    fn expire(&mut self) -> Result<(), PlanError> {
        if !self.current.expiry_due(self.now) {
            return Ok(());
        }
        let session = self.ids.session();
        while let Some(lot) = self.lot(self.next)?.filter(|lot| lot.expires_at <= self.now).cloned() {
            self.next += 1;
            self.current.amount -= lot.remaining;
            self.current.credits.live -= lot.remaining;
            self.current.credits.next_expiry = self.next_expiry()?;
            let id = self.ids.tx_id();
            let entry = self.entry(Draft {
                id,
                kind: EntryKind::Dec,
                amount: lot.remaining,
                created_at: lot.expires_at,
                expired_at: None,
                session: session.clone(),
                main_tx_id: Some(lot.tx_id),
                subject: None,
            });
            self.push(Some(entry), vec![LotChange::Remove(lot)]);
        }
        // The head's hint may point at a credit that is already gone; correct it.
        let next_expiry = self.next_expiry()?;
        if self.current.credits.next_expiry != next_expiry {
            self.current.credits.next_expiry = next_expiry;
            self.push(None, Vec::new());
        }
        if self.current.credits.live < Decimal::ZERO {
            return Err(PlanError::Inconsistent("credits exceed the live total"));
        }
        Ok(())
    }

    fn apply(&mut self, request: &OperationRequest) -> Result<usize, Refusal> {
        if let Some(token) = &request.update_token {
            if token != self.current.update_token.as_str() {
                return Err(Refusal::Rejected(Rejection::StaleUpdateToken));
            }
        }
        match request.operation {
            Operation::Inc { amount, ttl } => {
                let after = self.current.amount + amount.value();
                if !money::in_range(after) {
                    return Err(Refusal::Rejected(Rejection::AmountOutOfRange));
                }
                self.current.amount = after;
                let id = self.ids.tx_id();
                let expires_at = ttl.map(|ttl| self.now.plus_seconds(ttl.seconds()));
                let mut lots = Vec::new();
                if let Some(expires_at) = expires_at {
                    let lot = Lot {
                        seq: self.current.transactions_count + 1,
                        tx_id: id,
                        expires_at,
                        remaining: amount.value(),
                    };
                    self.current.credits.live += amount.value();
                    self.current.credits.next_expiry =
                        Some(self.current.credits.next_expiry.map_or(expires_at, |at| at.min(expires_at)));
                    lots.push(LotChange::Create(lot));
                }
                let entry =
                    self.entry(Draft::operation(id, EntryKind::Inc, amount.value(), expires_at, self.now, request));
                Ok(self.push(Some(entry), lots))
            }
            Operation::Dec { amount } => {
                let after = self.current.amount - amount.value();
                if after < self.current.min_limit.value() {
                    return Err(Refusal::Rejected(Rejection::InsufficientFunds));
                }
                // Live credits go first, soonest expiry first; the rest comes from the part
                // that never expires.
                let mut to_take = amount.value().min(self.current.credits.live);
                let mut in_this_change = Vec::new();
                let mut deferred = Vec::new();
                while to_take > Decimal::ZERO {
                    let available = match self.lot(self.next)? {
                        Some(lot) => lot.remaining,
                        None => return Err(PlanError::Inconsistent("live total exceeds credits").into()),
                    };
                    let take = available.min(to_take);
                    let change = self.consume_next(take)?;
                    if in_this_change.len() < self.lot_budget {
                        in_this_change.push(change);
                    } else {
                        deferred.push((change, take));
                    }
                    to_take -= take;
                }
                let from_credits = amount.value().min(self.current.credits.live);
                self.current.amount = after;
                if from_credits > Decimal::ZERO {
                    // Only a DEC that used credits moves the soonest expiry (and only it has
                    // the credits loaded to tell).
                    self.current.credits.live -= from_credits;
                    self.current.credits.debt = deferred.iter().map(|(_, take)| *take).sum();
                    self.current.credits.next_expiry = self.next_expiry()?;
                }
                let id = self.ids.tx_id();
                let entry = self.entry(Draft::operation(id, EntryKind::Dec, amount.value(), None, self.now, request));
                let index = self.push(Some(entry), in_this_change);
                for (change, take) in deferred {
                    self.current.credits.debt -= take;
                    self.push(None, vec![change]);
                }
                Ok(index)
            }
        }
    }
}

/// The parts of an entry that differ between operations and expiries.
struct Draft {
    id: TxId,
    kind: EntryKind,
    amount: Decimal,
    created_at: Millis,
    expired_at: Option<Millis>,
    session: String,
    main_tx_id: Option<TxId>,
    subject: Option<super::names::Subject>,
}

impl Draft {
    fn operation(
        id: TxId,
        kind: EntryKind,
        amount: Decimal,
        expired_at: Option<Millis>,
        now: Millis,
        request: &OperationRequest,
    ) -> Self {
        Draft {
            id,
            kind,
            amount,
            created_at: now,
            expired_at,
            session: request.session.clone(),
            main_tx_id: None,
            subject: request.subject.clone(),
        }
    }
}

#[cfg(test)]
mod fold_tests {
    use super::*;
    use uuid::Uuid;

    fn lot(seq: u64, remaining: i64) -> Lot {
        Lot {
            seq,
            tx_id: TxId::new(Uuid::nil()),
            expires_at: Millis::from_epoch_ms(1_000),
            remaining: remaining.into(),
        }
    }

    #[test]
    fn a_credit_touched_twice_in_one_transaction_is_written_once() {
        let reduce = |seq: u64, to: i64, from: i64| LotChange::Reduce { lot: lot(seq, to), previous: from.into() };
        // Created then reduced: one creation of what is left.
        assert_eq!(
            fold_lot_changes(&[LotChange::Create(lot(1, 10)), reduce(1, 4, 10)]),
            [LotChange::Create(lot(1, 4))]
        );
        // Created then used up: nothing to write.
        assert_eq!(fold_lot_changes(&[LotChange::Create(lot(1, 10)), LotChange::Remove(lot(1, 10))]), []);
        // Reduced twice: one reduction from the first value.
        assert_eq!(fold_lot_changes(&[reduce(2, 7, 9), reduce(2, 3, 7)]), [reduce(2, 3, 9)]);
        // Reduced, then used up: removed as the item is now.
        assert_eq!(fold_lot_changes(&[reduce(2, 7, 9), LotChange::Remove(lot(2, 7))]), [LotChange::Remove(lot(2, 9))]);
        // Different credits stay apart, in order.
        let apart = [LotChange::Remove(lot(1, 5)), reduce(2, 1, 3)];
        assert_eq!(fold_lot_changes(&apart), apart);
    }
}
