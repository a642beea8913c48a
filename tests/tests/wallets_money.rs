//! Money in the FPay-style wallets under a long random sequence of deposits, transfers,
//! quasi-transfers (received, cancelled, expired) and fund requests (sent, cancelled, expired),
//! including the ones that must be refused. After every step: conservation (the sum of
//! `available + lockedOut` over all wallets is what was deposited), no negative pocket, and
//! every wallet exactly as the model the test keeps. At the end: every wallet's volumes are the
//! sums of its history's INC and DEC entries.
//!
//! In process (the real edge and action code, see `wallets_support`) with a clock the test
//! moves, so that `expire: "after 1h"` can pass.

mod wallets_support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
use wallets_support::{dec, encode, Api, Pockets, Reply};

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A quasi-transfer: reserved on creation, then received or cancelled.
    Quasi,
    /// A fund request: nothing moves until it is sent.
    Fund,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Quasi => "quasi-transfers",
            Kind::Fund => "fund-requests",
        }
    }

    /// Where one is created.
    fn create_path(self) -> &'static str {
        match self {
            Kind::Quasi => "/v1.0/quasi-transfers/initiate",
            Kind::Fund => "/v1.0/fund-requests",
        }
    }

    /// The command that completes it (the other one is `cancel`).
    fn complete(self) -> &'static str {
        match self {
            Kind::Quasi => "receive",
            Kind::Fund => "send",
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Kind::Quasi => "QuasiTransfer",
            Kind::Fund => "FundRequest",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    Successful,
    Cancelled,
    Expired,
}

#[derive(Debug, Clone)]
struct Movement {
    id: String,
    kind: Kind,
    source: usize,
    destination: usize,
    amount: Decimal,
    expires_at: Option<i64>,
    resolved: Option<Resolution>,
    /// Whether creation named the wallet that completes it (a quasi-transfer's destination, a
    /// fund request's source): if not, receiving / sending names it with `using`, and a
    /// quasi-transfer's destination holds nothing in `lockedIn` meanwhile.
    named: bool,
}

#[derive(Debug, Clone)]
struct Wallet {
    id: String,
    foreign_id: Option<String>,
    balance_type: &'static str,
    model: Pockets,
}

struct Run {
    api: Api,
    rng: StdRng,
    /// 0 is the main wallet; the last one holds EUR (only ever refused).
    wallets: Vec<Wallet>,
    movements: Vec<Movement>,
    deposited: Decimal,
    log: Vec<String>,
    /// Requests answered 422 as the model said they must be.
    refused: usize,
}

/// The XOF wallets (the EUR one is last).
const XOF_WALLETS: usize = 5;

impl Run {
    async fn start(seed: u64) -> Run {
        let api = Api::new().await;
        let mut run = Run {
            api,
            rng: StdRng::seed_from_u64(seed),
            wallets: Vec::new(),
            movements: Vec::new(),
            deposited: Decimal::ZERO,
            log: Vec::new(),
            refused: 0,
        };
        // The first deposit without a destination makes the main wallet.
        let first = run.api.send("POST", "/v1.0/deposits/initiate", Some(r#"{"amount": 100}"#)).await;
        run.expect(&first, 201, None, "the first deposit");
        let main = first.body["destination"]["account"]["identifier"]["value"].as_str().expect("the main wallet");
        let main = main.to_owned();
        run.wallets.push(Wallet {
            id: main,
            foreign_id: None,
            balance_type: "XOF",
            model: Pockets { available: Decimal::from(100), input: Decimal::from(100), ..Pockets::default() },
        });
        run.deposited = Decimal::from(100);
        for (name, foreign_id, balance_type) in [
            ("One", None, "XOF"),
            ("Two", Some("w-2"), "XOF"),
            ("Three", None, "XOF"),
            ("Four", Some("w-4"), "XOF"),
            ("Euros", None, "EUR"),
        ] {
            let mut body = json!({"name": name, "balanceType": balance_type});
            if let Some(foreign_id) = foreign_id {
                body["foreignId"] = json!(foreign_id);
            }
            let created = run.api.send_json("POST", "/v1.0/wallets", &body).await;
            run.expect(&created, 201, None, "create a wallet");
            run.wallets.push(Wallet {
                id: created.body["id"].as_str().unwrap().to_owned(),
                foreign_id: foreign_id.map(str::to_owned),
                balance_type,
                model: Pockets::default(),
            });
        }
        run.check("setup").await;
        run
    }

    fn trace(&self) -> String {
        let start = self.log.len().saturating_sub(12);
        format!("seed run, last steps:\n  {}", self.log[start..].join("\n  "))
    }

    fn expect(&self, reply: &Reply, status: u16, code: Option<&str>, what: &str) {
        if reply.status != status || (code.is_some() && reply.error_code() != code) {
            panic!("{what}: expected {status} {code:?}, got {} {}\n{}", reply.status, reply.text, self.trace());
        }
    }

    /// How a request names wallet `i`: its id, its foreignId, or (the main wallet) nothing.
    fn name_of(&mut self, i: usize) -> Option<String> {
        if i == 0 && self.rng.random_bool(0.5) {
            return None;
        }
        match &self.wallets[i].foreign_id {
            Some(foreign_id) if self.rng.random_bool(0.5) => Some(foreign_id.clone()),
            _ => Some(self.wallets[i].id.clone()),
        }
    }

    fn two_xof_wallets(&mut self) -> (usize, usize) {
        let a = self.rng.random_range(0..XOF_WALLETS);
        let b = (a + self.rng.random_range(1..XOF_WALLETS)) % XOF_WALLETS;
        (a, b)
    }

    /// A random positive amount: two decimals mostly, eight sometimes.
    fn any_amount(&mut self, max_units: i64) -> Decimal {
        if self.rng.random_bool(0.2) {
            Decimal::new(self.rng.random_range(1..=max_units * 1_000_000), 8)
        } else {
            Decimal::new(self.rng.random_range(1..=max_units), 2)
        }
    }

    /// An amount that `available` covers (when it covers anything), or one just above it.
    fn spend_amount(&mut self, available: Decimal) -> (Decimal, bool) {
        let scale = if self.rng.random_bool(0.2) { 8 } else { 2 };
        let units = (available * Decimal::from(10i64.pow(scale))).trunc();
        let units = units.to_i64().expect("small amounts");
        if units >= 1 && self.rng.random_bool(0.8) {
            if self.rng.random_bool(0.1) {
                return (available, true);
            }
            return (Decimal::new(self.rng.random_range(1..=units), scale), true);
        }
        let over = available + Decimal::new(self.rng.random_range(1..=20_000), 2);
        (over, false)
    }

    fn body(&self, fields: &[(&str, Option<String>)], amount: Decimal) -> String {
        let mut parts = vec![format!(r#""amount": {amount}"#)];
        for (name, value) in fields {
            if let Some(value) = value {
                parts.push(format!(r#""{name}": {}"#, json!(value)));
            }
        }
        format!("{{{}}}", parts.join(", "))
    }

    async fn step(&mut self) {
        match self.rng.random_range(0..100) {
            0..=14 => self.deposit().await,
            15..=34 => self.transfer().await,
            35..=49 => self.create(Kind::Quasi).await,
            50..=64 => self.command(Kind::Quasi).await,
            65..=74 => self.create(Kind::Fund).await,
            75..=89 => self.command(Kind::Fund).await,
            _ => self.advance().await,
        }
    }

    async fn deposit(&mut self) {
        let to = self.rng.random_range(0..XOF_WALLETS);
        let amount = self.any_amount(50_000);
        let destination = self.name_of(to);
        let body = self.body(&[("destination", destination)], amount);
        self.log.push(format!("deposit {amount} to {to}"));
        let keyed = self.rng.random_bool(0.3);
        let key = format!("deposit-{}", uuid::Uuid::new_v4());
        let headers: Vec<(&str, &str)> = if keyed { vec![("idempotency-key", key.as_str())] } else { vec![] };
        let reply = self.api.send_with("POST", "/v1.0/deposits/initiate", Some(&body), &headers).await;
        self.expect(&reply, 201, None, "a deposit");
        self.check_movement(&reply, "Deposit", "Successful", None, Some(to), amount);
        let wallet = &mut self.wallets[to].model;
        wallet.available += amount;
        wallet.input += amount;
        self.deposited += amount;
        if keyed {
            let again = self.api.send_with("POST", "/v1.0/deposits/initiate", Some(&body), &headers).await;
            self.log.push("  replayed with its key".into());
            if (again.status, &again.body) != (reply.status, &reply.body) {
                panic!("a replay answers the first answer: {} then {}\n{}", reply.text, again.text, self.trace());
            }
        }
    }

    async fn transfer(&mut self) {
        let (from, mut to) = self.two_xof_wallets();
        let available = self.wallets[from].model.available;
        let (amount, fits) = self.spend_amount(available);
        let roll = self.rng.random_range(0..100);
        let mismatch = roll < 5 && fits;
        let same = (5..8).contains(&roll);
        if mismatch {
            to = XOF_WALLETS;
        } else if same {
            to = from;
        }
        let (source, destination) = (self.name_of(from), self.name_of(to));
        // Both omitted is the main wallet twice: also "the same wallet".
        let body = self.body(&[("source", source), ("destination", destination)], amount);
        self.log.push(format!("transfer {amount} {from} -> {to} ({body})"));
        let reply = self.api.send("POST", "/v1.0/transfers/initiate", Some(&body)).await;
        if same {
            self.expect(&reply, 400, Some("VALIDATION_ERROR"), "a transfer to the same wallet");
            assert_eq!(reply.body["error"]["field"], "destination", "{}", self.trace());
        } else if mismatch {
            self.expect(&reply, 422, Some("BALANCE_TYPE_MISMATCH"), "XOF to EUR");
            self.refused += 1;
        } else if !fits {
            self.expect(&reply, 422, Some("INSUFFICIENT_FUNDS"), "a transfer of more than available");
            self.refused += 1;
        } else {
            self.expect(&reply, 201, None, "a transfer");
            self.check_movement(&reply, "Transfer", "Successful", Some(from), Some(to), amount);
            self.move_money(from, to, amount);
        }
    }

    fn move_money(&mut self, from: usize, to: usize, amount: Decimal) {
        let source = &mut self.wallets[from].model;
        source.available -= amount;
        source.output += amount;
        let destination = &mut self.wallets[to].model;
        destination.available += amount;
        destination.input += amount;
    }

    async fn create(&mut self, kind: Kind) {
        let (from, to) = self.two_xof_wallets();
        let available = self.wallets[from].model.available;
        let (amount, fits) = match kind {
            Kind::Quasi => self.spend_amount(available),
            // Asking moves nothing: any amount is fine, a payer who cannot pay refuses at send.
            Kind::Fund => (self.spend_amount(available).0, true),
        };
        let expire = match self.rng.random_range(0..10) {
            0..=3 => Some("after 1h"),
            4 => Some("after 2h"),
            _ => None,
        };
        let (source, destination) = (self.name_of(from), self.name_of(to));
        let named = match kind {
            Kind::Quasi => destination.is_some(),
            Kind::Fund => source.is_some(),
        };
        let body = self
            .body(&[("source", source), ("destination", destination), ("expire", expire.map(str::to_owned))], amount);
        self.log.push(format!("create {kind:?} {amount} {from} -> {to} ({body})"));
        let reply = self.api.send("POST", kind.create_path(), Some(&body)).await;
        if !fits {
            self.expect(&reply, 422, Some("INSUFFICIENT_FUNDS"), "a quasi-transfer of more than available");
            self.refused += 1;
            return;
        }
        self.expect(&reply, 201, None, "a quasi-transfer or fund request");
        let (source, destination) = match kind {
            Kind::Quasi => (Some(from), named.then_some(to)),
            Kind::Fund => (named.then_some(from), Some(to)),
        };
        self.check_movement(&reply, kind.type_name(), "Processing", source, destination, amount);
        let created_ms = reply.body["createdTime"]["timestamp"]["milliseconds"].as_i64().expect("createdTime");
        assert_eq!(created_ms, self.api.now_ms(), "created now, by the clock\n{}", self.trace());
        let expires_at = expire.map(|e| created_ms + if e == "after 1h" { HOUR_MS } else { 2 * HOUR_MS });
        let expire_ms = reply.body["expire"]["time"]["timestamp"]["milliseconds"].as_i64();
        assert_eq!(expire_ms, expires_at, "{}\n{}", reply.text, self.trace());
        let delay_ms = reply.body["expire"]["delay"]["milliseconds"].as_i64();
        assert_eq!(delay_ms, expires_at.map(|at| at - created_ms), "{}\n{}", reply.text, self.trace());
        if kind == Kind::Quasi {
            let source = &mut self.wallets[from].model;
            source.available -= amount;
            source.locked_out += amount;
            source.output += amount;
            if named {
                self.wallets[to].model.locked_in += amount;
            }
        }
        let id = reply.body["id"].as_str().unwrap().to_owned();
        let movement = Movement { id, kind, source: from, destination: to, amount, expires_at, resolved: None, named };
        self.movements.push(movement);
    }

    /// A command on one of the movements of `kind`, mostly on unresolved ones.
    async fn command(&mut self, kind: Kind) {
        let open: Vec<usize> = (0..self.movements.len())
            .filter(|&i| self.movements[i].kind == kind && self.movements[i].resolved.is_none())
            .collect();
        let any: Vec<usize> = (0..self.movements.len()).filter(|&i| self.movements[i].kind == kind).collect();
        let pick = if !open.is_empty() && self.rng.random_bool(0.8) {
            open[self.rng.random_range(0..open.len())]
        } else if !any.is_empty() {
            any[self.rng.random_range(0..any.len())]
        } else {
            return self.create(kind).await;
        };
        let complete = self.rng.random_bool(0.6);
        self.run_command(pick, complete).await;
    }

    async fn run_command(&mut self, index: usize, complete: bool) {
        let movement = self.movements[index].clone();
        let command = if complete { movement.kind.complete() } else { "cancel" };
        let now = self.api.now_ms();
        self.log.push(format!(
            "{command} {:?} #{index} ({} at {now}, {:?})",
            movement.kind, movement.amount, movement.resolved
        ));
        // Completing names the wallet that completes it when creation did not (and sometimes
        // when it did: the same one is fine); FPay's SDK also echoes the path's id.
        let counterpart = match movement.kind {
            Kind::Quasi => movement.destination,
            Kind::Fund => movement.source,
        };
        let mut body = serde_json::Map::new();
        if complete && (!movement.named || self.rng.random_bool(0.3)) {
            let wallet = &self.wallets[counterpart];
            let using = match &wallet.foreign_id {
                Some(foreign_id) if self.rng.random_bool(0.5) => foreign_id.clone(),
                _ => wallet.id.clone(),
            };
            body.insert("using".into(), json!(using));
        }
        if self.rng.random_bool(0.3) {
            body.insert("id".into(), json!(movement.id));
        }
        let body = (!body.is_empty()).then(|| Value::Object(body).to_string());
        self.log.push(format!("  body {body:?}"));
        let path = format!("/v1.0/{}/{}/{command}", movement.kind.path(), encode(&movement.id));
        let reply = self.api.send("POST", &path, body.as_deref()).await;
        let expired_now = movement.resolved.is_none() && movement.expires_at.is_some_and(|at| now > at);
        match (movement.resolved, expired_now) {
            (None, true) => {
                self.expect(&reply, 409, Some("ALREADY_RESOLVED"), "a command after the expire time");
                self.assert_says(&reply, "Failure");
                self.resolve(index, Resolution::Expired);
            }
            (None, false) if complete => {
                let available = self.wallets[movement.source].model.available;
                if movement.kind == Kind::Fund && movement.amount > available {
                    // Refused, and still Processing: it can be sent later.
                    self.expect(&reply, 422, Some("INSUFFICIENT_FUNDS"), "send without the money");
                    self.refused += 1;
                    return;
                }
                self.expect(&reply, 200, None, "completing an open movement");
                self.check_attempt(&reply, &movement).await;
                self.resolve(index, Resolution::Successful);
            }
            (None, false) => {
                self.expect(&reply, 200, None, "cancelling an open movement");
                self.check_cancelled(&reply, &movement);
                self.resolve(index, Resolution::Cancelled);
            }
            (Some(Resolution::Successful), _) if complete => {
                self.expect(&reply, 200, None, "repeating the command that completed it");
                self.check_attempt(&reply, &movement).await;
            }
            (Some(Resolution::Cancelled), _) if !complete => {
                self.expect(&reply, 200, None, "repeating the cancel");
                self.check_cancelled(&reply, &movement);
            }
            (Some(resolution), _) => {
                self.expect(&reply, 409, Some("ALREADY_RESOLVED"), "the other command on a resolved movement");
                self.assert_says(&reply, if resolution == Resolution::Successful { "Successful" } else { "Failure" });
            }
        }
    }

    fn assert_says(&self, reply: &Reply, status: &str) {
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(status), "the 409 says the status {status}: {message}\n{}", self.trace());
    }

    /// A cancel's answer: the movement, `Failure` and cancelled by a call.
    fn check_cancelled(&self, reply: &Reply, movement: &Movement) {
        let body = &reply.body;
        assert_eq!(body["id"], movement.id.as_str(), "{}", self.trace());
        assert_eq!(body["type"], movement.kind.type_name(), "{}\n{}", reply.text, self.trace());
        assert_eq!(body["status"]["_type"], "Failure", "{}\n{}", reply.text, self.trace());
        assert_eq!(body["status"]["reason"]["en"], "Cancelled", "{}\n{}", reply.text, self.trace());
        assert_eq!(body["status"]["cancelled"], json!({"afterTimeout": false}), "{}\n{}", reply.text, self.trace());
        assert_eq!(body["sending"], "NotYetDone", "{}\n{}", reply.text, self.trace());
        assert_eq!(dec(&reply.exact["amount"]["value"]), movement.amount, "{}", self.trace());
    }

    /// A receive's or send's answer: the Attempt that completed it. And the movement, read
    /// back, is `Successful` with both its wallets.
    async fn check_attempt(&self, reply: &Reply, movement: &Movement) {
        let body = &reply.body;
        assert_eq!(body["id"], format!("a-{}", movement.id), "{}\n{}", reply.text, self.trace());
        assert_eq!(body["parentId"], movement.id.as_str(), "{}\n{}", reply.text, self.trace());
        assert_eq!(body["parentType"], movement.kind.type_name(), "{}\n{}", reply.text, self.trace());
        assert_eq!(body["status"], json!({"_type": "Successful"}), "{}\n{}", reply.text, self.trace());
        let path = format!("/v1.0/{}/{}", movement.kind.path(), movement.id);
        let read = self.api.send("GET", &path, None).await;
        self.expect(&read, 200, None, "GET the completed movement");
        let kind = movement.kind.type_name();
        let (source, destination) = (Some(movement.source), Some(movement.destination));
        self.check_movement(&read, kind, "Successful", source, destination, movement.amount);
        assert_eq!(read.body["sending"], "TotallyDone", "{}\n{}", read.text, self.trace());
        let completed = read.body["completedTime"]["timestamp"]["milliseconds"].as_i64();
        assert!(completed.is_some(), "{}\n{}", read.text, self.trace());
    }

    /// The wallet a movement's `source` or `destination` names, checked to be FPay's
    /// `Single` of the movement's amount; `None` when it has none.
    fn side(&self, reply: &Reply, key: &str, amount: Decimal) -> Option<String> {
        let side = reply.body.get(key)?;
        assert_eq!(side["_type"], "Single", "{key}: {}\n{}", reply.text, self.trace());
        assert_eq!(dec(&reply.exact[key]["amount"]["value"]), amount, "{key}: {}\n{}", reply.text, self.trace());
        Some(side["account"]["identifier"]["value"].as_str().expect("an identifier").to_owned())
    }

    fn resolve(&mut self, index: usize, resolution: Resolution) {
        let movement = self.movements[index].clone();
        self.movements[index].resolved = Some(resolution);
        let amount = movement.amount;
        match (movement.kind, resolution) {
            (Kind::Quasi, Resolution::Successful) => {
                self.wallets[movement.source].model.locked_out -= amount;
                let destination = &mut self.wallets[movement.destination].model;
                if movement.named {
                    destination.locked_in -= amount;
                }
                destination.available += amount;
                destination.input += amount;
            }
            (Kind::Quasi, Resolution::Cancelled | Resolution::Expired) => {
                let source = &mut self.wallets[movement.source].model;
                source.locked_out -= amount;
                source.available += amount;
                source.input += amount;
                if movement.named {
                    self.wallets[movement.destination].model.locked_in -= amount;
                }
            }
            (Kind::Fund, Resolution::Successful) => self.move_money(movement.source, movement.destination, amount),
            (Kind::Fund, Resolution::Cancelled | Resolution::Expired) => {}
        }
    }

    /// Moves the clock, then touches every movement whose expire time passed: each answers
    /// 409 ALREADY_RESOLVED and is Failure/Expired from then on.
    async fn advance(&mut self) {
        let ms = if self.rng.random_bool(0.3) {
            HOUR_MS + self.rng.random_range(1..=60_000)
        } else {
            self.rng.random_range(1..=20) * 60_000 + self.rng.random_range(1..=999)
        };
        self.api.advance_ms(ms);
        // "Passed its expire time": keep clear of the very millisecond.
        while self.movements.iter().any(|m| m.resolved.is_none() && m.expires_at == Some(self.api.now_ms())) {
            self.api.advance_ms(1);
        }
        self.log.push(format!("advance the clock by {ms} ms"));
        let now = self.api.now_ms();
        let expired: Vec<usize> = (0..self.movements.len())
            .filter(|&i| {
                self.movements[i].resolved.is_none() && self.movements[i].expires_at.is_some_and(|at| now > at)
            })
            .collect();
        for index in expired {
            let complete = self.rng.random_bool(0.5);
            self.run_command(index, complete).await;
            assert_eq!(self.movements[index].resolved, Some(Resolution::Expired), "{}", self.trace());
            // Any later command is refused the same way, and moves nothing.
            let complete = self.rng.random_bool(0.5);
            self.run_command(index, complete).await;
        }
    }

    fn check_movement(
        &self,
        reply: &Reply,
        kind: &str,
        status: &str,
        source: Option<usize>,
        destination: Option<usize>,
        amount: Decimal,
    ) {
        let body = &reply.body;
        assert_eq!(body["type"], kind, "{}\n{}", reply.text, self.trace());
        assert_eq!(body["status"]["_type"], status, "{}\n{}", reply.text, self.trace());
        let wallet = |i: Option<usize>| i.map(|i| self.wallets[i].id.clone());
        if kind == "Deposit" {
            // From outside Pocketbook: the request named no mobile-money account.
            assert_eq!(body["source"]["account"]["provider"]["key"], "Outside", "{}\n{}", reply.text, self.trace());
        } else {
            assert_eq!(self.side(reply, "source", amount), wallet(source), "{}\n{}", reply.text, self.trace());
        }
        assert_eq!(self.side(reply, "destination", amount), wallet(destination), "{}\n{}", reply.text, self.trace());
        assert_eq!(dec(&reply.exact["amount"]["value"]), amount, "{}\n{}", reply.text, self.trace());
        assert_eq!(body["balanceType"], "XOF");
    }

    /// Every wallet as the model says; conservation; nothing negative.
    async fn check(&self, after: &str) {
        let mut total = Decimal::ZERO;
        let (mut locked_in, mut locked_out) = (Decimal::ZERO, Decimal::ZERO);
        for (i, wallet) in self.wallets.iter().enumerate() {
            let reply = self.api.send("GET", &format!("/v1.0/wallets/{}", wallet.id), None).await;
            self.expect(&reply, 200, None, "GET a wallet");
            assert_eq!(reply.body["balanceType"], wallet.balance_type);
            let got = Pockets::of(&reply.exact);
            for (name, value) in [
                ("available", got.available),
                ("lockedIn", got.locked_in),
                ("lockedOut", got.locked_out),
                ("input", got.input),
                ("output", got.output),
            ] {
                assert!(
                    value >= Decimal::ZERO,
                    "after {after}: wallet {i}'s {name} is negative: {}\n{}",
                    reply.text,
                    self.trace()
                );
            }
            if got != wallet.model {
                panic!(
                    "after {after}: wallet {i} is\n  {got:?}\nthe model says\n  {:?}\n{}",
                    wallet.model,
                    self.trace()
                );
            }
            total += got.available + got.locked_out;
            locked_in += got.locked_in;
            locked_out += got.locked_out;
        }
        assert_eq!(
            total,
            self.deposited,
            "after {after}: sum of available + lockedOut is what was deposited\n{}",
            self.trace()
        );
        // What a quasi-transfer naming no destination reserves is locked in nowhere yet.
        let unnamed: Decimal = self
            .movements
            .iter()
            .filter(|m| m.kind == Kind::Quasi && !m.named && m.resolved.is_none())
            .map(|m| m.amount)
            .sum();
        assert_eq!(
            locked_in + unnamed,
            locked_out,
            "after {after}: every reserved amount is locked in somewhere, or waits for its receiver\n{}",
            self.trace()
        );
    }

    /// Volumes against history, and the balance view of every wallet.
    async fn check_volumes(&self) {
        for (i, wallet) in self.wallets.iter().enumerate() {
            let history = self.api.all_transactions(&wallet.id, 37).await;
            let (mut inc, mut dec_sum) = (Decimal::ZERO, Decimal::ZERO);
            for entry in &history {
                let amount = Decimal::from_str(entry["amount"].as_str().expect("an amount")).expect("a decimal");
                match entry["type"].as_str() {
                    Some("INC") => inc += amount,
                    Some("DEC") => dec_sum += amount,
                    other => panic!("wallet {i}: an entry of type {other:?}"),
                }
            }
            let reply = self.api.send("GET", &format!("/v1.0/wallets/{}", wallet.id), None).await;
            let got = Pockets::of(&reply.exact);
            assert_eq!(
                got.input,
                inc,
                "wallet {i}: volume.input is the sum of its INC entries ({} entries)",
                history.len()
            );
            assert_eq!(got.output, dec_sum, "wallet {i}: volume.output is the sum of its DEC entries");
            let balance = self.api.send("GET", &format!("/balances/{}", wallet.id), None).await;
            self.expect(&balance, 200, None, "GET the wallet's balance");
            let amount = Decimal::from_str(balance.exact["balanceAmount"].as_str().unwrap()).unwrap();
            assert_eq!(amount, got.available, "wallet {i}: balanceAmount = available");
        }
    }
}

/// A transaction's wallet pocket (`before` or `after`) from an `exact` body.
fn pocket_at(at: &Value) -> Pockets {
    let pockets = Pockets {
        available: dec(&at["balance"]["available"]),
        locked_in: dec(&at["balance"]["lockedIn"]),
        locked_out: dec(&at["balance"]["lockedOut"]),
        input: dec(&at["volume"]["input"]),
        output: dec(&at["volume"]["output"]),
    };
    assert_eq!(dec(&at["volume"]["total"]), pockets.input + pockets.output, "total = input + output: {at}");
    pockets
}

impl Run {
    /// Every transaction of the project (`GET /v1.0/transactions`, page after page): one per
    /// ledger entry of its wallet, each moving `available` and the volume by its amount its
    /// way, and per wallet they chain (each one's `before` is the previous one's `after`)
    /// from an empty wallet to the wallet as it is.
    async fn check_transactions(&self) {
        let mut all = Vec::new();
        let mut query = "?limit=100".to_owned();
        loop {
            let reply = self.api.send("GET", &format!("/v1.0/transactions{query}"), None).await;
            self.expect(&reply, 200, None, "a page of transactions");
            all.extend(reply.exact["items"].as_array().cloned().unwrap_or_default());
            match reply.body["pagination"]["nextPage"]["queryString"].as_str() {
                Some(next) => query = next.to_owned(),
                None => break,
            }
        }
        let ids: std::collections::BTreeSet<&str> = all.iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), all.len(), "no transaction twice");
        for (i, wallet) in self.wallets.iter().enumerate() {
            let mut mine: Vec<(Pockets, Pockets, &Value)> = all
                .iter()
                .filter(|t| t["wallet"]["id"] == wallet.id.as_str())
                .map(|t| (pocket_at(&t["wallet"]["before"]), pocket_at(&t["wallet"]["after"]), t))
                .collect();
            let history = self.api.all_transactions(&wallet.id, 100).await;
            assert_eq!(mine.len(), history.len(), "wallet {i}: one transaction per ledger entry");
            // Each moves the volume up by its amount: their order by volume is their order.
            mine.sort_by_key(|(before, _, _)| before.input + before.output);
            let mut at = Pockets::default();
            for (before, after, transaction) in &mine {
                let amount = dec(&transaction["amount"]["value"]);
                let context = format!("wallet {i}: {transaction}");
                assert_eq!(
                    (before.available, before.input, before.output),
                    (at.available, at.input, at.output),
                    "{context}"
                );
                let (available, input, output) = match transaction["dc"].as_str() {
                    Some("Credit") => (amount, amount, Decimal::ZERO),
                    Some("Debit") => (-amount, Decimal::ZERO, amount),
                    other => panic!("{context}: dc {other:?}"),
                };
                assert_eq!(after.available - before.available, available, "{context}");
                assert_eq!((after.input - before.input, after.output - before.output), (input, output), "{context}");
                assert_eq!(transaction["parent"]["_type"], transaction["parent"]["type"], "{context}");
                at = *after;
            }
            let now = &wallet.model;
            assert_eq!((at.available, at.input, at.output), (now.available, now.input, now.output), "wallet {i}");
        }
    }
}

async fn random_sequence(seed: u64, steps: usize) {
    let mut run = Run::start(seed).await;
    for step in 0..steps {
        run.step().await;
        run.check(&format!("step {step}")).await;
    }
    // Settle what is still open, so that the end state is exercised too.
    let open: Vec<usize> = (0..run.movements.len()).filter(|&i| run.movements[i].resolved.is_none()).collect();
    for index in open {
        let complete = run.rng.random_bool(0.5);
        run.run_command(index, complete).await;
        run.check("settling").await;
    }
    run.check_volumes().await;
    run.check_transactions().await;
    assert!(run.refused >= 10, "seed {seed}: the sequence should include refusals, had {}", run.refused);
    let resolutions: Vec<(Kind, Option<Resolution>)> = run.movements.iter().map(|m| (m.kind, m.resolved)).collect();
    for wanted in [Resolution::Successful, Resolution::Cancelled, Resolution::Expired] {
        for kind in [Kind::Quasi, Kind::Fund] {
            assert!(
                resolutions.contains(&(kind, Some(wanted))),
                "seed {seed}: the sequence should have seen a {kind:?} end {wanted:?}"
            );
        }
    }
}

#[tokio::test]
async fn money_is_conserved_through_a_random_sequence_seed_1() {
    random_sequence(1, 300).await;
}

#[tokio::test]
async fn money_is_conserved_through_a_random_sequence_seed_2() {
    random_sequence(2, 300).await;
}

#[tokio::test]
async fn money_is_conserved_through_a_random_sequence_seed_3() {
    random_sequence(3, 300).await;
}

#[tokio::test]
async fn an_expired_quasi_transfer_gives_the_money_back_whatever_command_comes() {
    let api = Api::new().await;
    let created = |name: &str| json!({"name": name});
    let a = api.send_json("POST", "/v1.0/wallets", &created("A")).await.body["id"].as_str().unwrap().to_owned();
    let b = api.send_json("POST", "/v1.0/wallets", &created("B")).await.body["id"].as_str().unwrap().to_owned();
    let deposited = api.send_json("POST", "/v1.0/deposits/initiate", &json!({"destination": a, "amount": 50})).await;
    assert_eq!(deposited.status, 201, "{}", deposited.text);
    for command in ["receive", "cancel"] {
        let qt = api
            .send_json(
                "POST",
                "/v1.0/quasi-transfers/initiate",
                &json!({"source": a, "destination": b, "amount": 20, "expire": "after 1h"}),
            )
            .await;
        assert_eq!(qt.status, 201, "{}", qt.text);
        let qt: Value = qt.body;
        api.advance_ms(HOUR_MS - 1);
        let wallet = api.send("GET", &format!("/v1.0/wallets/{a}"), None).await;
        assert_eq!(dec(&wallet.exact["mainPocket"]["balance"]["lockedOut"]), Decimal::from(20), "not expired yet");
        api.advance_ms(2);
        let late =
            api.send("POST", &format!("/v1.0/quasi-transfers/{}/{command}", qt["id"].as_str().unwrap()), None).await;
        assert_eq!((late.status, late.error_code()), (409, Some("ALREADY_RESOLVED")), "{command}: {}", late.text);
        assert!(late.body["error"]["message"].as_str().unwrap().contains("Failure"), "{}", late.text);
        let a_now = Pockets::of(&api.send("GET", &format!("/v1.0/wallets/{a}"), None).await.exact);
        let b_now = Pockets::of(&api.send("GET", &format!("/v1.0/wallets/{b}"), None).await.exact);
        assert_eq!(
            (a_now.available, a_now.locked_out),
            (Decimal::from(50), Decimal::ZERO),
            "{command}: the money went back"
        );
        assert_eq!((b_now.available, b_now.locked_in), (Decimal::ZERO, Decimal::ZERO), "{command}");
        let again =
            api.send("POST", &format!("/v1.0/quasi-transfers/{}/receive", qt["id"].as_str().unwrap()), None).await;
        assert_eq!((again.status, again.error_code()), (409, Some("ALREADY_RESOLVED")), "{}", again.text);
    }
}
