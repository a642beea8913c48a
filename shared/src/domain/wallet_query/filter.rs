//! The `filter` language of `GET /wallets`: lexer, parser, syntax tree, evaluator and the
//! hints a store can use to read less.
//!
//! ```text
//! filter     = or
//! or         = and { "or" and }
//! and        = unary { "and" unary }
//! unary      = "not" unary | "(" or ")" | comparison
//! comparison = field ( ("=" | "!=" | "<" | "<=" | ">" | ">=" | "isBefore" | "isAfter") value
//!                    | "in" "{" [ value { "," value } ] "}"
//!                    | "startsWith" value
//!                    | "isDefined" | "!isDefined" )
//! value      = 'single quoted' | "double quoted" | bare-word
//! ```
//!
//! Decisions a caller can rely on:
//! - Precedence is `not` > `and` > `or`; `a or b and not c` is `a or (b and (not c))`.
//! - Keywords (`and`, `or`, `not`, `in`, `startsWith`, `isDefined`, `isBefore`, `isAfter`,
//!   `true`, `false`, `Now`, `Today`, `Yesterday`, `Tomorrow`) are case-insensitive; field
//!   names are case-sensitive, like the JSON properties they name.
//! - Quotes only delimit: `'100'` and `100` are the same value, and the field's kind decides
//!   what the value means. Inside quotes, `\'`, `\"` and `\\` are the only escapes.
//! - A bare word runs up to white space or one of `(){},'"=!<>`.
//! - An absent optional field (`foreignId`, `description`, `creator.authAccessId`) makes every
//!   test on it false, except `!=`, which is exactly `not =` and so true, and `!isDefined`.
//! - `creator` compared with a value compares `creator.accountId`.
//! - Text orders by Unicode code point, numbers exactly, times by millisecond. Dates are
//!   ISO-8601 dates (midnight UTC) or date-times (UTC if no offset is given), between the
//!   years 0000 and 9999, at millisecond resolution; `Now` is the evaluation's `now_ms`, and
//!   `Today`, `Yesterday`, `Tomorrow` are the starts (UTC) of those days.
//!   `createdTime.timestamp.milliseconds` / `.seconds` also take whole numbers in their unit;
//!   `createdTime.iso8601` is text (`2024-03-10T12:00:00.000Z`), so it has `startsWith`.

use super::MAX_QUERY_CHARS;
use super::{cut_short, quote_found, EpochUnit, Field, FieldKind, QueryError, Scalar, WalletView};
use crate::domain::time::Millis;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

pub type FilterError = QueryError;

/// How deeply parentheses and `not`s may nest: deep enough for any real filter, shallow
/// enough that the recursive parser and evaluator cannot exhaust a Lambda's stack.
pub const MAX_DEPTH: usize = 32;

const DAY_MS: i64 = 86_400_000;
/// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the instants ISO-8601 writes with
/// four-digit years, so that every accepted instant prints back in a form that parses.
const FIRST_ISO_MS: i64 = -62_167_219_200_000;
const LAST_ISO_MS: i64 = 253_402_300_799_999;

/// A parsed, type-checked filter. Its `Display` is canonical: it parses back to an equal
/// filter, so it can stand for the filter wherever one is bound to it (page tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    expr: Expr,
}

/// The syntax tree. `And` and `Or` always hold at least two operands; parentheses leave no
/// node of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Test(Comparison),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub field: Field,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    Compare(CompareOp, Value),
    In(Vec<Value>),
    StartsWith(String),
    IsDefined,
    IsNotDefined,
}

/// `isBefore` / `isAfter` mean `<` / `>`; they stay apart so that a filter prints as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    IsBefore,
    IsAfter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Number(Decimal),
    Bool(bool),
    Time(TimeValue),
}

/// A point in time as written; the relative ones are resolved against the evaluation's now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeValue {
    /// Milliseconds since the epoch, written as an ISO-8601 date or date-time.
    Instant(i64),
    /// A whole number in the field's epoch unit (seconds or milliseconds).
    Epoch(i64),
    Now,
    Today,
    Yesterday,
    Tomorrow,
}

impl Filter {
    /// Parses and type-checks `text`. Never panics; rejects texts longer than
    /// [`MAX_QUERY_CHARS`] characters or nested deeper than [`MAX_DEPTH`].
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let tokens = lex(text)?;
        let mut parser = Parser { end_position: text.chars().count(), tokens, next: 0, depth: 0 };
        let expr = parser.or()?;
        match parser.peek() {
            None => Ok(Filter { expr }),
            Some(_) => Err(parser.error("'and', 'or' or end of input")),
        }
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether `wallet` passes the filter, with `Now`, `Today`, ... taken relative to `now_ms`.
    pub fn matches(&self, wallet: &WalletView, now_ms: i64) -> bool {
        self.expr.matches(wallet, now_ms)
    }

    /// Inclusive bounds on `created_ms` that every matching wallet lies within, implied by the
    /// time comparisons `and`-ed at the top level (`None`: unbounded on that side). A store
    /// may narrow its read to them; the filter itself still decides. Bounds with `lo > hi`
    /// mean nothing matches.
    pub fn created_time_range(&self, now_ms: i64) -> (Option<i64>, Option<i64>) {
        let mut lo: Option<i64> = None;
        let mut hi: Option<i64> = None;
        for comparison in self.conjuncts() {
            let (l, h) = comparison_time_range(comparison, now_ms);
            lo = match (lo, l) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            hi = match (hi, h) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        (lo, hi)
    }

    /// The only ids a matching wallet can have, when the top level `and`s an `id = x` or an
    /// `id in {...}` (sorted, without repeats); `None` when the filter does not pin ids. A
    /// store may fetch just these; the filter itself still decides.
    pub fn ids(&self) -> Option<Vec<String>> {
        let mut ids: Option<BTreeSet<&str>> = None;
        for comparison in self.conjuncts() {
            if comparison.field != Field::Id {
                continue;
            }
            let these: BTreeSet<&str> = match &comparison.test {
                Test::Compare(CompareOp::Eq, Value::Text(id)) => BTreeSet::from([id.as_str()]),
                Test::In(values) => values
                    .iter()
                    .filter_map(|value| match value {
                        Value::Text(id) => Some(id.as_str()),
                        _ => None,
                    })
                    .collect(),
                _ => continue,
            };
            ids = Some(match ids {
                Some(before) => before.intersection(&these).copied().collect(),
                None => these,
            });
        }
        ids.map(|ids| ids.into_iter().map(str::to_owned).collect())
    }

    /// Whether any comparison reads the main pocket.
    pub fn reads_pockets(&self) -> bool {
        fn any(expr: &Expr) -> bool {
            match expr {
                Expr::And(operands) | Expr::Or(operands) => operands.iter().any(any),
                Expr::Not(operand) => any(operand),
                Expr::Test(comparison) => comparison.field.is_pocket(),
            }
        }
        any(&self.expr)
    }

    /// The comparisons that must all hold for the filter to hold.
    fn conjuncts(&self) -> Vec<&Comparison> {
        fn collect<'a>(expr: &'a Expr, into: &mut Vec<&'a Comparison>) {
            match expr {
                Expr::And(operands) => operands.iter().for_each(|operand| collect(operand, into)),
                Expr::Test(comparison) => into.push(comparison),
                Expr::Or(_) | Expr::Not(_) => {}
            }
        }
        let mut into = Vec::new();
        collect(&self.expr, &mut into);
        into
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

impl Expr {
    fn matches(&self, wallet: &WalletView, now_ms: i64) -> bool {
        match self {
            Expr::And(operands) => operands.iter().all(|e| e.matches(wallet, now_ms)),
            Expr::Or(operands) => operands.iter().any(|e| e.matches(wallet, now_ms)),
            Expr::Not(operand) => !operand.matches(wallet, now_ms),
            Expr::Test(comparison) => comparison.matches(wallet, now_ms),
        }
    }
}

impl Comparison {
    fn matches(&self, wallet: &WalletView, now_ms: i64) -> bool {
        let actual = self.field.value_of(wallet);
        let order = |value: &Value| {
            actual.as_ref().and_then(|actual| same_kind_cmp(actual, &value.resolve(self.field, now_ms)))
        };
        match &self.test {
            Test::IsDefined => actual.is_some(),
            Test::IsNotDefined => actual.is_none(),
            Test::Compare(CompareOp::Ne, value) => order(value) != Some(Ordering::Equal),
            Test::Compare(op, value) => order(value).is_some_and(|o| op.holds(o)),
            Test::In(values) => values.iter().any(|v| order(v) == Some(Ordering::Equal)),
            Test::StartsWith(prefix) => {
                matches!(&actual, Some(Scalar::Text(text)) if text.starts_with(prefix.as_str()))
            }
        }
    }
}

/// The order of two values of one kind; `None` across kinds, which type checking rules out.
fn same_kind_cmp(a: &Scalar<'_>, b: &Scalar<'_>) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Text(a), Scalar::Text(b)) => Some(a.cmp(b)),
        (Scalar::Number(a), Scalar::Number(b)) => Some(a.cmp(b)),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        (Scalar::Time(a), Scalar::Time(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

impl CompareOp {
    fn holds(self, order: Ordering) -> bool {
        match self {
            CompareOp::Eq => order == Ordering::Equal,
            CompareOp::Ne => order != Ordering::Equal,
            CompareOp::Lt | CompareOp::IsBefore => order == Ordering::Less,
            CompareOp::Le => order != Ordering::Greater,
            CompareOp::Gt | CompareOp::IsAfter => order == Ordering::Greater,
            CompareOp::Ge => order != Ordering::Less,
        }
    }

    const fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::IsBefore => "isBefore",
            CompareOp::IsAfter => "isAfter",
        }
    }
}

impl Value {
    fn resolve(&self, field: Field, now_ms: i64) -> Scalar<'_> {
        match self {
            Value::Text(text) => Scalar::Text(Cow::Borrowed(text)),
            Value::Number(n) => Scalar::Number(*n),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Time(time) => Scalar::Time(time.resolve(field.epoch_unit(), now_ms)),
        }
    }
}

impl TimeValue {
    /// Milliseconds since the epoch.
    pub fn resolve(self, unit: Option<EpochUnit>, now_ms: i64) -> i64 {
        let today = now_ms - now_ms.rem_euclid(DAY_MS);
        match self {
            TimeValue::Instant(ms) => ms,
            TimeValue::Epoch(n) => match unit {
                Some(EpochUnit::Seconds) => n.saturating_mul(1000),
                Some(EpochUnit::Milliseconds) | None => n,
            },
            TimeValue::Now => now_ms,
            TimeValue::Today => today,
            TimeValue::Yesterday => today.saturating_sub(DAY_MS),
            TimeValue::Tomorrow => today.saturating_add(DAY_MS),
        }
    }
}

/// Inclusive bounds on `created_ms` implied by one comparison.
fn comparison_time_range(comparison: &Comparison, now_ms: i64) -> (Option<i64>, Option<i64>) {
    let field = comparison.field;
    if !matches!(field, Field::CreatedTime | Field::CreatedTimeMilliseconds | Field::CreatedTimeSeconds) {
        return (None, None);
    }
    let bounds = |op: CompareOp, value: &Value| -> (Option<i64>, Option<i64>) {
        let Value::Time(time) = value else {
            return (None, None);
        };
        let v = i128::from(time.resolve(field.epoch_unit(), now_ms));
        // The seconds field reads created_ms rounded down to a whole second, s(ms); it is
        // monotonic, so each test on it still bounds created_ms: s(ms) >= v exactly when ms is
        // at least v rounded up to a second, and s(ms) <= v exactly when ms is below the
        // second after v rounded down.
        let seconds = field == Field::CreatedTimeSeconds;
        let at_least = |v: i128| if seconds { -floor_second(-v) } else { v };
        let at_most = |v: i128| if seconds { floor_second(v) + 999 } else { v };
        let (lo, hi) = match op {
            CompareOp::Eq => (Some(at_least(v)), Some(at_most(v))),
            CompareOp::Ge => (Some(at_least(v)), None),
            CompareOp::Gt | CompareOp::IsAfter => (Some(at_least(v + 1)), None),
            CompareOp::Le => (None, Some(at_most(v))),
            CompareOp::Lt | CompareOp::IsBefore => (None, Some(at_most(v - 1))),
            CompareOp::Ne => (None, None),
        };
        (lo.map(clamp_ms), hi.map(clamp_ms))
    };
    match &comparison.test {
        Test::Compare(op, value) => bounds(*op, value),
        Test::In(values) if !values.is_empty() => {
            let each: Vec<_> = values.iter().map(|v| bounds(CompareOp::Eq, v)).collect();
            let lo = each.iter().map(|b| b.0).collect::<Option<Vec<_>>>();
            let hi = each.iter().map(|b| b.1).collect::<Option<Vec<_>>>();
            (lo.and_then(|lo| lo.into_iter().min()), hi.and_then(|hi| hi.into_iter().max()))
        }
        _ => (None, None),
    }
}

fn floor_second(ms: i128) -> i128 {
    ms.div_euclid(1000) * 1000
}

/// Clamping keeps a bound a bound: it can only widen the range.
fn clamp_ms(ms: i128) -> i64 {
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

// ---------------------------------------------------------------------------------------------
// Canonical printing

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parentheses only where precedence alone would not give the same tree back: around
        // an `or` under `and` or `not`, and around an `and` under `and` or `not` (a chain
        // would read back flattened).
        let operand = |f: &mut fmt::Formatter<'_>, e: &Expr, under_or: bool| match e {
            Expr::Or(_) => write!(f, "({e})"),
            Expr::And(_) if !under_or => write!(f, "({e})"),
            Expr::And(_) | Expr::Not(_) | Expr::Test(_) => write!(f, "{e}"),
        };
        let joined = |f: &mut fmt::Formatter<'_>, operands: &[Expr], keyword: &str| {
            for (i, e) in operands.iter().enumerate() {
                if i > 0 {
                    write!(f, " {keyword} ")?;
                }
                operand(f, e, keyword == "or")?;
            }
            Ok(())
        };
        match self {
            Expr::And(operands) => joined(f, operands, "and"),
            Expr::Or(operands) => joined(f, operands, "or"),
            Expr::Not(e) => {
                f.write_str("not ")?;
                operand(f, e, false)
            }
            Expr::Test(comparison) => comparison.fmt(f),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.field;
        match &self.test {
            Test::Compare(op, value) => write!(f, "{field} {} {value}", op.symbol()),
            Test::In(values) => {
                write!(f, "{field} in {{")?;
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    value.fmt(f)?;
                }
                f.write_str("}")
            }
            Test::StartsWith(prefix) => write!(f, "{field} startsWith {}", quoted(prefix)),
            Test::IsDefined => write!(f, "{field} isDefined"),
            Test::IsNotDefined => write!(f, "{field} !isDefined"),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(text) => f.write_str(&quoted(text)),
            Value::Number(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Time(TimeValue::Instant(ms)) => f.write_str(&Millis::from_epoch_ms(*ms).to_iso8601()),
            Value::Time(TimeValue::Epoch(n)) => write!(f, "{n}"),
            Value::Time(TimeValue::Now) => f.write_str("Now"),
            Value::Time(TimeValue::Today) => f.write_str("Today"),
            Value::Time(TimeValue::Yesterday) => f.write_str("Yesterday"),
            Value::Time(TimeValue::Tomorrow) => f.write_str("Tomorrow"),
        }
    }
}

fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

// ---------------------------------------------------------------------------------------------
// Lexing

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenKind {
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Bang,
    Word(String),
    Quoted(String),
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    /// Character offset of the token's first character.
    position: usize,
    /// The token as written, for error messages.
    written: String,
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || "(){},'\"=!<>".contains(c)
}

fn lex(text: &str) -> Result<Vec<Token>, FilterError> {
    // Counting stops early, so a huge input costs no more than a long one.
    if text.chars().nth(MAX_QUERY_CHARS).is_some() {
        return Err(FilterError {
            position: MAX_QUERY_CHARS,
            expected: format!("at most {MAX_QUERY_CHARS} characters"),
            found: "more".to_owned(),
        });
    }
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (kind, len) = match (c, next) {
            ('(', _) => (TokenKind::LParen, 1),
            (')', _) => (TokenKind::RParen, 1),
            ('{', _) => (TokenKind::LBrace, 1),
            ('}', _) => (TokenKind::RBrace, 1),
            (',', _) => (TokenKind::Comma, 1),
            ('=', _) => (TokenKind::Eq, 1),
            ('!', Some('=')) => (TokenKind::Ne, 2),
            ('!', _) => (TokenKind::Bang, 1),
            ('<', Some('=')) => (TokenKind::Le, 2),
            ('<', _) => (TokenKind::Lt, 1),
            ('>', Some('=')) => (TokenKind::Ge, 2),
            ('>', _) => (TokenKind::Gt, 1),
            ('\'' | '"', _) => {
                let (text, len) = lex_quoted(&chars, i)?;
                (TokenKind::Quoted(text), len)
            }
            _ => {
                let len = chars[i..].iter().take_while(|&&c| !is_delimiter(c)).count();
                (TokenKind::Word(chars[i..i + len].iter().collect()), len)
            }
        };
        tokens.push(Token { kind, position: i, written: chars[i..i + len].iter().collect() });
        i += len;
    }
    Ok(tokens)
}

/// The text of the quoted string opening at `start`, and how many characters it spans.
fn lex_quoted(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let quote = chars.get(start).copied().unwrap_or('\'');
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match (chars.get(i), chars.get(i + 1)) {
            (None, _) | (Some('\\'), None) => {
                return Err(FilterError {
                    position: start,
                    expected: "a closing quote".to_owned(),
                    found: "end of input".to_owned(),
                })
            }
            (Some('\\'), Some(&escaped)) => {
                if !matches!(escaped, '\\' | '\'' | '"') {
                    return Err(FilterError {
                        position: i,
                        expected: r#"\\, \' or \" after a backslash"#.to_owned(),
                        found: quote_found(&format!("\\{escaped}")),
                    });
                }
                text.push(escaped);
                i += 2;
            }
            (Some(&c), _) if c == quote => return Ok((text, i + 1 - start)),
            (Some(&c), _) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    depth: usize,
    end_position: usize,
}

fn is_keyword(token: Option<&Token>, keyword: &str) -> bool {
    matches!(token, Some(Token { kind: TokenKind::Word(w), .. }) if w.eq_ignore_ascii_case(keyword))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn advance(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    /// An error at the next token.
    fn error(&self, expected: &str) -> FilterError {
        match self.peek() {
            Some(token) => error_at(token, expected),
            None => FilterError {
                position: self.end_position,
                expected: expected.to_owned(),
                found: "end of input".to_owned(),
            },
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(&format!("at most {MAX_DEPTH} nested parentheses or 'not's")));
        }
        self.depth += 1;
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        self.joined("or", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        self.joined("and", Self::unary, Expr::And)
    }

    /// Operands parsed by `operand`, joined by `keyword`; one operand stands for itself.
    fn joined(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Expr, FilterError>,
        join: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, FilterError> {
        let mut operands = vec![operand(self)?];
        while is_keyword(self.peek(), keyword) {
            self.advance();
            operands.push(operand(self)?);
        }
        Ok(if operands.len() == 1 { operands.remove(0) } else { join(operands) })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if is_keyword(self.peek(), "not") {
            self.enter()?;
            self.advance();
            let operand = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(operand)));
        }
        if matches!(self.peek(), Some(Token { kind: TokenKind::LParen, .. })) {
            self.enter()?;
            self.advance();
            let inner = self.or()?;
            if !matches!(self.peek(), Some(Token { kind: TokenKind::RParen, .. })) {
                return Err(self.error("'and', 'or' or ')'"));
            }
            self.advance();
            self.depth -= 1;
            return Ok(inner);
        }
        self.comparison().map(Expr::Test)
    }

    fn comparison(&mut self) -> Result<Comparison, FilterError> {
        const EXPECTED_FIELD: &str = "a field name, 'not' or '('";
        let field = match self.peek() {
            Some(Token { kind: TokenKind::Word(name), .. }) => match Field::from_name(name) {
                Some(field) => field,
                None => return Err(self.error(EXPECTED_FIELD)),
            },
            _ => return Err(self.error(EXPECTED_FIELD)),
        };
        self.advance();
        let kind = field.kind();
        let wrong_operator =
            |parser: &Parser| parser.error(&format!("an operator that applies to {field} ({})", operators(kind)));
        let Some(token) = self.peek() else {
            return Err(wrong_operator(self));
        };
        let compare = match &token.kind {
            TokenKind::Eq => Some(CompareOp::Eq),
            TokenKind::Ne => Some(CompareOp::Ne),
            TokenKind::Lt => Some(CompareOp::Lt),
            TokenKind::Le => Some(CompareOp::Le),
            TokenKind::Gt => Some(CompareOp::Gt),
            TokenKind::Ge => Some(CompareOp::Ge),
            TokenKind::Word(w) if w.eq_ignore_ascii_case("isBefore") => Some(CompareOp::IsBefore),
            TokenKind::Word(w) if w.eq_ignore_ascii_case("isAfter") => Some(CompareOp::IsAfter),
            _ => None,
        };
        if let Some(op) = compare {
            let applies = match op {
                CompareOp::Eq | CompareOp::Ne => true,
                CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => kind != FieldKind::Boolean,
                CompareOp::IsBefore | CompareOp::IsAfter => kind == FieldKind::Time,
            };
            if !applies {
                return Err(wrong_operator(self));
            }
            self.advance();
            let value = self.value(field)?;
            return Ok(Comparison { field, test: Test::Compare(op, value) });
        }
        let test = if is_keyword(Some(token), "in") {
            self.advance();
            Test::In(self.value_set(field)?)
        } else if is_keyword(Some(token), "startsWith") && kind == FieldKind::Text {
            self.advance();
            match self.value(field)? {
                Value::Text(prefix) => Test::StartsWith(prefix),
                _ => return Err(wrong_operator(self)),
            }
        } else if is_keyword(Some(token), "isDefined") {
            self.advance();
            Test::IsDefined
        } else if token.kind == TokenKind::Bang {
            self.advance();
            if !is_keyword(self.peek(), "isDefined") {
                return Err(self.error("'isDefined'"));
            }
            self.advance();
            Test::IsNotDefined
        } else {
            return Err(wrong_operator(self));
        };
        Ok(Comparison { field, test })
    }

    fn value_set(&mut self, field: Field) -> Result<Vec<Value>, FilterError> {
        if !matches!(self.peek(), Some(Token { kind: TokenKind::LBrace, .. })) {
            return Err(self.error("'{'"));
        }
        self.advance();
        let mut values = Vec::new();
        if matches!(self.peek(), Some(Token { kind: TokenKind::RBrace, .. })) {
            self.advance();
            return Ok(values);
        }
        loop {
            values.push(self.value(field)?);
            match self.peek().map(|t| &t.kind) {
                Some(TokenKind::Comma) => {
                    self.advance();
                }
                Some(TokenKind::RBrace) => {
                    self.advance();
                    return Ok(values);
                }
                _ => return Err(self.error("',' or '}'")),
            }
        }
    }

    fn value(&mut self, field: Field) -> Result<Value, FilterError> {
        let text = match self.peek() {
            Some(Token { kind: TokenKind::Word(text) | TokenKind::Quoted(text), .. }) => text,
            _ => return Err(self.error("a value")),
        };
        let value = match field.kind() {
            FieldKind::Text => Some(Value::Text(text.clone())),
            FieldKind::Boolean => parse_bool(text).map(Value::Bool),
            FieldKind::Number => parse_number(text).map(Value::Number),
            FieldKind::Time => parse_time(text, field.epoch_unit()).map(Value::Time),
        };
        match value {
            Some(value) => {
                self.advance();
                Ok(value)
            }
            None => Err(self.error(&expected_value(field))),
        }
    }
}

fn error_at(token: &Token, expected: &str) -> FilterError {
    FilterError {
        position: token.position,
        expected: expected.to_owned(),
        // A quoted string already shows its quotes.
        found: match token.kind {
            TokenKind::Quoted(_) => cut_short(&token.written),
            _ => quote_found(&token.written),
        },
    }
}

const fn operators(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "=, !=, <, <=, >, >=, in, startsWith, isDefined, !isDefined",
        FieldKind::Boolean => "=, !=, in, isDefined, !isDefined",
        FieldKind::Number => "=, !=, <, <=, >, >=, in, isDefined, !isDefined",
        FieldKind::Time => "=, !=, <, <=, >, >=, isBefore, isAfter, in, isDefined, !isDefined",
    }
}

fn expected_value(field: Field) -> String {
    const DATE: &str = "a date (ISO-8601, Now, Today, Yesterday or Tomorrow)";
    match (field.kind(), field.epoch_unit()) {
        (FieldKind::Text, _) => "a value".to_owned(),
        (FieldKind::Boolean, _) => "true or false".to_owned(),
        (FieldKind::Number, _) => "a number".to_owned(),
        (FieldKind::Time, None) => DATE.to_owned(),
        (FieldKind::Time, Some(EpochUnit::Seconds)) => format!("{DATE} or whole seconds"),
        (FieldKind::Time, Some(EpochUnit::Milliseconds)) => {
            format!("{DATE} or whole milliseconds")
        }
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `-?digits(.digits)?`, exactly: no exponents, no `_`, nothing rounded.
fn parse_number(text: &str) -> Option<Decimal> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return None;
    }
    Decimal::from_str_exact(text).ok()
}

fn parse_time(text: &str, unit: Option<EpochUnit>) -> Option<TimeValue> {
    if let Some(unit) = unit {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = text.parse().ok()?;
            // Seconds must still be a number of milliseconds.
            if unit == EpochUnit::Seconds {
                n.checked_mul(1000)?;
            }
            return Some(TimeValue::Epoch(n));
        }
    }
    let keyword = [
        ("Now", TimeValue::Now),
        ("Today", TimeValue::Today),
        ("Yesterday", TimeValue::Yesterday),
        ("Tomorrow", TimeValue::Tomorrow),
    ]
    .into_iter()
    .find(|(word, _)| text.eq_ignore_ascii_case(word));
    if let Some((_, time)) = keyword {
        return Some(time);
    }
    parse_instant(text).map(TimeValue::Instant)
}

/// An ISO-8601 date-time (RFC 3339, or without an offset meaning UTC) or date (midnight
/// UTC), in milliseconds.
fn parse_instant(text: &str) -> Option<i64> {
    let ms = if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        at.timestamp_millis()
    } else if let Ok(at) = text.parse::<NaiveDateTime>() {
        at.and_utc().timestamp_millis()
    } else {
        let date = text.parse::<NaiveDate>().ok()?;
        date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis()
    };
    (FIRST_ISO_MS..=LAST_ISO_MS).contains(&ms).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::wallet_query::test_wallets::{fixed, wallet, DAY_MS, NOW_MS};
    use crate::domain::wallet_query::whole_seconds;
    use proptest::prelude::*;
    use proptest::strategy::Union;
    use std::str::FromStr;

    const TODAY: i64 = NOW_MS - NOW_MS % DAY_MS;

    fn parse(text: &str) -> Filter {
        match Filter::parse(text) {
            Ok(filter) => filter,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn ids_matching(filter: &Filter, wallets: &[WalletView]) -> Vec<String> {
        wallets.iter().filter(|w| filter.matches(w, NOW_MS)).map(|w| w.id.clone()).collect()
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap_or_default()
    }

    #[test]
    fn the_issue_examples_parse_and_select_what_they_say() {
        let wallets = fixed();
        let cases: [(&str, &[&str]); 4] = [
            ("id in {'31234', '5678', '9990'}", &["31234", "5678", "9990"]),
            ("createdTime isBefore Yesterday", &["31234", "5678", "d1", "d2", "e1", "e2", "g1", "h2"]),
            ("id startsWith abcd", &["abcd1", "abcd2"]),
            ("mainPocket.balance.available >= 100 and not isMain = true", &["5678", "abce", "b1"]),
        ];
        for (text, expected) in cases {
            assert_eq!(ids_matching(&parse(text), &wallets), expected, "{text}");
        }
    }

    #[test]
    fn the_issue_examples_print_canonically() {
        assert_eq!(parse("id in {'31234', '5678', '9990'}").to_string(), "id in {'31234', '5678', '9990'}");
        assert_eq!(parse("createdTime  ISBEFORE yesterday").to_string(), "createdTime isBefore Yesterday");
        assert_eq!(parse("id startsWith abcd").to_string(), "id startsWith 'abcd'");
        assert_eq!(
            parse("mainPocket.balance.available >= 100 AND NOT isMain = TRUE").to_string(),
            "mainPocket.balance.available >= 100 and not isMain = true"
        );
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let filter = parse("isMain = true or name = a and not name = b");
        let Expr::Or(operands) = filter.expr() else { panic!("{filter:?}") };
        assert!(matches!(&operands[1], Expr::And(and) if matches!(and[1], Expr::Not(_))));
        assert_eq!(filter.to_string(), "isMain = true or name = 'a' and not name = 'b'");
        assert_eq!(
            parse("(isMain = true or name = a) and name = b").to_string(),
            "(isMain = true or name = 'a') and name = 'b'"
        );
    }

    type Oracle = fn(&WalletView) -> bool;

    /// Each filter next to the same question asked in plain Rust.
    fn oracle_cases() -> Vec<(&'static str, Oracle)> {
        vec![
            ("id in {'31234', '5678', '9990'}", |w| ["31234", "5678", "9990"].contains(&w.id.as_str())),
            ("createdTime isBefore Yesterday", |w| w.created_ms < TODAY - DAY_MS),
            ("id startsWith abcd", |w| w.id.starts_with("abcd")),
            ("mainPocket.balance.available >= 100 and not isMain = true", |w| w.available >= dec("100") && !w.is_main),
            ("foreignId = 'f-1'", |w| w.foreign_id.as_deref() == Some("f-1")),
            ("foreignId != 'f-1'", |w| w.foreign_id.as_deref() != Some("f-1")),
            ("foreignId isDefined", |w| w.foreign_id.is_some()),
            ("foreignId !isDefined", |w| w.foreign_id.is_none()),
            ("foreignId startsWith 'F'", |w| w.foreign_id.as_deref().is_some_and(|f| f.starts_with('F'))),
            ("description < 'm'", |w| w.description.as_deref().is_some_and(|d| d < "m")),
            ("not description < 'm'", |w| w.description.as_deref().is_none_or(|d| d >= "m")),
            ("name > 'Z'", |w| w.name.as_str() > "Z"),
            ("name = \"beta\"", |w| w.name == "beta"),
            ("name = beta OR name = gamma", |w| w.name == "beta" || w.name == "gamma"),
            ("name <= 'Alpha'", |w| w.name.as_str() <= "Alpha"),
            ("name = 'Ünïcode'", |w| w.name == "Ünïcode"),
            ("mainPocket.balance = 42", |w| w.available == dec("42")),
            ("mainPocket.balance.lockedIn > 0 or mainPocket.balance.lockedOut > 0", |w| {
                w.locked_in > Decimal::ZERO || w.locked_out > Decimal::ZERO
            }),
            ("mainPocket.volume.total = 200", |w| w.volume_input + w.volume_output == dec("200")),
            ("mainPocket.volume.output != 0", |w| !w.volume_output.is_zero()),
            ("mainPocket.balance.available < 0", |w| w.available < Decimal::ZERO),
            ("mainPocket.balance.available > 0.000000009", |w| w.available > dec("0.000000009")),
            ("mainPocket.balance.available in {3, '7', 100}", |w| {
                [dec("3"), dec("7"), dec("100")].contains(&w.available)
            }),
            ("createdTime isAfter Today", |w| w.created_ms > TODAY),
            ("createdTime >= Today and createdTime < Tomorrow", |w| (TODAY..TODAY + DAY_MS).contains(&w.created_ms)),
            ("createdTime <= Now", |w| w.created_ms <= NOW_MS),
            ("createdTime = 2024-03-10T12:00:00Z", |w| w.created_ms == NOW_MS),
            ("createdTime = '2024-03-10T13:00:00+01:00'", |w| w.created_ms == NOW_MS),
            ("createdTime isBefore 1970-01-01", |w| w.created_ms < 0),
            ("createdTime.timestamp.seconds = 1710072000", |w| whole_seconds(w.created_ms) == NOW_MS),
            ("createdTime.timestamp.seconds isAfter Yesterday and isMain = FALSE", |w| {
                whole_seconds(w.created_ms) > TODAY - DAY_MS && !w.is_main
            }),
            ("createdTime.timestamp.milliseconds < 0", |w| w.created_ms < 0),
            ("createdTime.timestamp.milliseconds >= 1710072000000", |w| w.created_ms >= NOW_MS),
            ("createdTime.iso8601 startsWith '2024-03-10'", |w| (TODAY..TODAY + DAY_MS).contains(&w.created_ms)),
            ("creator = 'acc-1'", |w| w.creator_account_id == "acc-1"),
            ("creator isDefined", |_| true),
            ("creator._type = Api and creator.accountId in {'acc-2', 'acc-3'}", |w| {
                ["acc-2", "acc-3"].contains(&w.creator_account_id.as_str())
            }),
            ("creator.authAccessId isDefined and not (isMain = true or mainPocket.balance > 50)", |w| {
                w.creator_auth_access_id.is_some() && !(w.is_main || w.available > dec("50"))
            }),
            ("not not isMain = false", |w| !w.is_main),
            ("isMain != true", |w| !w.is_main),
            ("description = ''", |w| w.description.as_deref() == Some("")),
            ("description = 'it\\'s quoted'", |w| w.description.as_deref() == Some("it's quoted")),
            ("description = 'back\\\\slash'", |w| w.description.as_deref() == Some("back\\slash")),
            ("id in {}", |_| false),
            ("(((id = e1)))", |w| w.id == "e1"),
        ]
    }

    #[test]
    fn every_filter_selects_what_the_oracle_selects() {
        let wallets = fixed();
        let cases = oracle_cases();
        assert!(cases.len() >= 25);
        for (text, oracle) in cases {
            let filter = parse(text);
            let expected: Vec<String> = wallets.iter().filter(|w| oracle(w)).map(|w| w.id.clone()).collect();
            assert_eq!(ids_matching(&filter, &wallets), expected, "{text}");
            // The canonical form means the same.
            assert_eq!(ids_matching(&parse(&filter.to_string()), &wallets), expected, "{filter}");
        }
    }

    #[test]
    fn errors_say_where_what_was_expected_and_what_was_found() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("id = 'a' and id =", 17, "a value", "end of input"),
            ("", 0, "a field name, 'not' or '('", "end of input"),
            ("foo = 1", 0, "a field name, 'not' or '('", "'foo'"),
            (
                "isMain startsWith x",
                7,
                "an operator that applies to isMain (=, !=, in, isDefined, !isDefined)",
                "'startsWith'",
            ),
            (
                "name isBefore Today",
                5,
                "an operator that applies to name (=, !=, <, <=, >, >=, in, startsWith, isDefined, !isDefined)",
                "'isBefore'",
            ),
            ("mainPocket.balance > abc", 21, "a number", "'abc'"),
            ("mainPocket.balance > 1e3", 21, "a number", "'1e3'"),
            ("isMain = yes", 9, "true or false", "'yes'"),
            ("createdTime = 2024-13-01", 14, "a date (ISO-8601, Now, Today, Yesterday or Tomorrow)", "'2024-13-01'"),
            ("createdTime = 100", 14, "a date (ISO-8601, Now, Today, Yesterday or Tomorrow)", "'100'"),
            ("name = 'abc", 7, "a closing quote", "end of input"),
            ("name = 'a\\x'", 9, "\\\\, \\' or \\\" after a backslash", "'\\x'"),
            ("(name = a", 9, "'and', 'or' or ')'", "end of input"),
            ("name = a name = b", 9, "'and', 'or' or end of input", "'name'"),
            ("id in {'a' 'b'}", 11, "',' or '}'", "'b'"),
            ("id in 'a'", 6, "'{'", "'a'"),
            ("name ! = x", 7, "'isDefined'", "'='"),
            ("näme = x", 0, "a field name, 'not' or '('", "'näme'"),
            ("name = 'ü' and ü", 15, "a field name, 'not' or '('", "'ü'"),
            (
                "name = 'ü' and id ü",
                18,
                "an operator that applies to id (=, !=, <, <=, >, >=, in, startsWith, isDefined, !isDefined)",
                "'ü'",
            ),
        ];
        for &(text, position, expected, found) in cases {
            let error = Filter::parse(text).expect_err(text);
            assert_eq!(error, FilterError { position, expected: expected.into(), found: found.into() }, "{text}");
        }
        assert_eq!(
            Filter::parse("id = 'a' and id =").expect_err("").to_string(),
            "at character 17: expected a value, found end of input"
        );
    }

    #[test]
    fn deep_nesting_and_long_texts_are_errors_not_stack_overflows() {
        let deep = format!("{}isMain = true{}", "(".repeat(33), ")".repeat(33));
        let error = Filter::parse(&deep).expect_err("too deep");
        assert_eq!((error.position, error.found.as_str()), (32, "'('"));
        let nots = format!("{}isMain = true", "not ".repeat(400));
        assert_eq!(Filter::parse(&nots).expect_err("too deep").position, 128);
        assert!(Filter::parse(&format!("{}isMain = true{}", "(".repeat(32), ")".repeat(32))).is_ok());
        let long = format!("id = '{}'", "x".repeat(3000));
        assert_eq!(Filter::parse(&long).expect_err("too long").position, MAX_QUERY_CHARS);
        assert!(Filter::parse(&"(".repeat(1_000_000)).is_err());
        // Long flat chains do not nest.
        let chain = vec!["isMain = true"; 100].join(" or ");
        assert!(Filter::parse(&chain).is_ok());
    }

    #[test]
    fn absent_fields_fail_every_test_but_not_equal_and_not_defined() {
        let w = wallet("x", None, "n", None, false, 0, "a", None, ["0"; 5]);
        for text in [
            "foreignId = a",
            "foreignId < a",
            "foreignId >= a",
            "foreignId in {a}",
            "foreignId startsWith ''",
            "foreignId isDefined",
        ] {
            assert!(!parse(text).matches(&w, NOW_MS), "{text}");
        }
        for text in ["foreignId != a", "foreignId !isDefined", "not foreignId = a", "not foreignId < a"] {
            assert!(parse(text).matches(&w, NOW_MS), "{text}");
        }
    }

    #[test]
    fn created_time_range_bounds_top_level_time_tests() {
        let range = |text: &str| parse(text).created_time_range(NOW_MS);
        assert_eq!(range("createdTime isBefore Yesterday"), (None, Some(TODAY - DAY_MS - 1)));
        assert_eq!(
            range("createdTime >= Today and name = a and createdTime < Tomorrow"),
            (Some(TODAY), Some(TODAY + DAY_MS - 1))
        );
        assert_eq!(range("createdTime.timestamp.seconds = 10"), (Some(10_000), Some(10_999)));
        assert_eq!(range("createdTime.timestamp.seconds > 10"), (Some(11_000), None));
        assert_eq!(range("createdTime.timestamp.milliseconds in {5, 3, 9}"), (Some(3), Some(9)));
        assert_eq!(range("createdTime > Now or name = a"), (None, None));
        assert_eq!(range("not createdTime > Now"), (None, None));
        assert_eq!(range("createdTime != Now"), (None, None));
    }

    #[test]
    fn ids_are_pinned_by_top_level_id_tests() {
        assert_eq!(parse("id in {'b', 'a', 'b'}").ids(), Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(parse("name = x and id = 'a'").ids(), Some(vec!["a".to_owned()]));
        assert_eq!(parse("id in {a, b} and (id = b and isMain = true)").ids(), Some(vec!["b".to_owned()]));
        assert_eq!(parse("id = a or id = b").ids(), None);
        assert_eq!(parse("id startsWith a").ids(), None);
        assert_eq!(parse("id = a and id = b").ids(), Some(vec![]));
    }

    // -----------------------------------------------------------------------------------------
    // Properties

    fn arb_text() -> BoxedStrategy<String> {
        prop_oneof![
            "[a-z0-9'\"\\\\ ()<>={},!.:-]{0,8}",
            "\\PC{0,8}",
            prop::sample::select(vec!["31234", "abcd1", "b1", "beta", "f-1", "acc-1", "Today", "and", "true", "100"])
                .prop_map(str::to_owned),
        ]
        .boxed()
    }

    fn arb_value(field: Field) -> BoxedStrategy<Value> {
        match field.kind() {
            FieldKind::Text => arb_text().prop_map(Value::Text).boxed(),
            FieldKind::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
            FieldKind::Number => prop_oneof![
                (any::<i64>(), 0u32..=10).prop_map(|(m, s)| Decimal::new(m, s)),
                (-200i64..200, 0u32..=2).prop_map(|(m, s)| Decimal::new(m, s)),
            ]
            .prop_map(Value::Number)
            .boxed(),
            FieldKind::Time => {
                let epoch = match field.epoch_unit() {
                    Some(EpochUnit::Seconds) => (-(i64::MAX / 1000)..=i64::MAX / 1000).boxed(),
                    Some(EpochUnit::Milliseconds) => any::<i64>().boxed(),
                    None => Just(0).boxed(),
                };
                let has_epoch = field.epoch_unit().is_some();
                prop_oneof![
                    (FIRST_ISO_MS..=LAST_ISO_MS).prop_map(TimeValue::Instant),
                    (NOW_MS - 40 * DAY_MS..NOW_MS + 40 * DAY_MS).prop_map(TimeValue::Instant),
                    prop::sample::select(vec![
                        TimeValue::Now,
                        TimeValue::Today,
                        TimeValue::Yesterday,
                        TimeValue::Tomorrow
                    ]),
                    epoch.prop_map(move |n| if has_epoch { TimeValue::Epoch(n) } else { TimeValue::Now }),
                ]
                .prop_map(Value::Time)
                .boxed()
            }
        }
    }

    fn arb_test(field: Field) -> BoxedStrategy<Test> {
        let kind = field.kind();
        let mut ops = vec![CompareOp::Eq, CompareOp::Ne];
        if kind != FieldKind::Boolean {
            ops.extend([CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge]);
        }
        if kind == FieldKind::Time {
            ops.extend([CompareOp::IsBefore, CompareOp::IsAfter]);
        }
        let mut tests = vec![
            (prop::sample::select(ops), arb_value(field)).prop_map(|(op, v)| Test::Compare(op, v)).boxed(),
            prop::collection::vec(arb_value(field), 0..4).prop_map(Test::In).boxed(),
            Just(Test::IsDefined).boxed(),
            Just(Test::IsNotDefined).boxed(),
        ];
        if kind == FieldKind::Text {
            tests.push(arb_text().prop_map(Test::StartsWith).boxed());
        }
        Union::new(tests).boxed()
    }

    fn arb_comparison() -> impl Strategy<Value = Comparison> {
        prop::sample::select(Field::ALL.to_vec())
            .prop_flat_map(|field| arb_test(field).prop_map(move |test| Comparison { field, test }))
    }

    fn arb_expr() -> impl Strategy<Value = Expr> {
        arb_comparison().prop_map(Expr::Test).prop_recursive(5, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
                inner.prop_map(|e| Expr::Not(Box::new(e))),
            ]
        })
    }

    const TOKENS: &[&str] = &[
        "(",
        ")",
        "{",
        "}",
        ",",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "!",
        "and",
        "OR",
        "not",
        "in",
        "startsWith",
        "isDefined",
        "!isDefined",
        "isBefore",
        "isAfter",
        "id",
        "name",
        "isMain",
        "foreignId",
        "createdTime",
        "createdTime.timestamp.seconds",
        "createdTime.iso8601",
        "mainPocket.balance",
        "creator",
        "'a'",
        "'it\\'s'",
        "\"x\"",
        "'",
        "\"",
        "\\",
        "100",
        "-1.5",
        "true",
        "Today",
        "2024-01-01",
        "2024-01-01T00:00:00Z",
        "99999999999999999999",
        "ü",
        "∞",
        "",
    ];

    proptest! {
        #[test]
        fn printing_then_parsing_gives_back_the_same_filter(expr in arb_expr()) {
            let filter = Filter { expr };
            let printed = filter.to_string();
            let reparsed = Filter::parse(&printed);
            prop_assert_eq!(reparsed.as_ref(), Ok(&filter), "printed as {}", printed);
        }

        #[test]
        fn parsing_any_text_never_panics(text in ".{0,200}") {
            let _ = Filter::parse(&text);
        }

        #[test]
        fn parsing_any_token_soup_never_panics_and_what_parses_round_trips(
            tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..40),
            glue in prop::sample::select(vec![" ", ""]),
        ) {
            let text = tokens.join(glue);
            if let Ok(filter) = Filter::parse(&text) {
                prop_assert_eq!(Filter::parse(&filter.to_string()), Ok(filter.clone()));
                for w in fixed() {
                    let _ = filter.matches(&w, NOW_MS);
                }
            }
        }

        #[test]
        fn a_matching_wallet_lies_within_the_created_time_range(
            comparisons in prop::collection::vec(
                prop::sample::select(vec![Field::CreatedTime, Field::CreatedTimeMilliseconds, Field::CreatedTimeSeconds])
                    .prop_flat_map(|field| arb_test(field).prop_map(move |test| Expr::Test(Comparison { field, test }))),
                1..4,
            ),
            created_ms in prop_oneof![NOW_MS - 3 * DAY_MS..NOW_MS + 3 * DAY_MS, any::<i64>()],
            now_ms in NOW_MS - DAY_MS..NOW_MS + DAY_MS,
        ) {
            let expr = if comparisons.len() == 1 { comparisons[0].clone() } else { Expr::And(comparisons) };
            let filter = Filter { expr };
            let w = wallet("x", None, "n", None, false, created_ms, "a", None, ["0"; 5]);
            let (lo, hi) = filter.created_time_range(now_ms);
            if filter.matches(&w, now_ms) {
                prop_assert!(lo.is_none_or(|lo| lo <= created_ms), "{} lo {:?}", filter, lo);
                prop_assert!(hi.is_none_or(|hi| created_ms <= hi), "{} hi {:?}", filter, hi);
            }
        }

        #[test]
        fn a_matching_wallet_has_one_of_the_pinned_ids(expr in arb_expr()) {
            let filter = Filter { expr };
            if let Some(ids) = filter.ids() {
                for w in fixed().iter().filter(|w| filter.matches(w, NOW_MS)) {
                    prop_assert!(ids.contains(&w.id), "{} matched {}", filter, w.id);
                }
            }
        }
    }
}
