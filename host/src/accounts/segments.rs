//! Segments: a small predicate language over followers, used to list followers and as a broadcast
//! audience.
//!
//! ```text
//! tag:vip and not tag:churned
//! tags.any(vip, "big spender") or attr.level = gold
//! attr.spend in 100..500 and active_within 7d
//! subscribed_between 2026-01-01..2026-02-01 and counter.purchases >= 3
//! (region = Shanghai or region = Beijing) and gender = female
//! ```
//!
//! # Predicates
//!
//! | predicate | true when |
//! | --- | --- |
//! | `all` | always |
//! | `subscribed` · `unsubscribed` | the follower is (is not) currently subscribed |
//! | `tag:NAME` | the follower carries tag NAME (same as `tags.any(NAME)`) |
//! | `tags.any(A, B, …)` · `tags.all(…)` · `tags.none(…)` | carries at least one · every one · none of the tags |
//! | `attr.KEY = V` · `!=` | attribute KEY equals (differs from) V; numerically when both are numbers (`100` = `100.0`) |
//! | `attr.KEY > N` · `>=` · `<` · `<=` | attribute KEY is a number and compares so with N |
//! | `attr.KEY in LO..HI` | attribute KEY is a number in the range (see *Ranges*) |
//! | `attr.KEY in (V1, V2, …)` | attribute KEY equals one of the values |
//! | `attr.KEY exists` | the follower has attribute KEY |
//! | `counter.NAME OP N` · `counter.NAME in LO..HI` | behaviour counter NAME (messages, clicks, purchases, …) compares so; a counter never counted is 0 |
//! | `region` · `gender` · `language` · `nickname` · `scene` with `= V`, `!= V`, `in (V1, …)`, `exists` | the profile field (`scene` = the subscribe scene) compares so; `exists` = not empty |
//! | `active_within DURATION` | the last interaction was at most DURATION ago (`30m`, `12h`, `7d`, `2w`; also `s`) |
//! | `subscribed_within DURATION` | subscribed at most DURATION ago |
//! | `subscribed_between LO..HI` | the (last) subscribe time is in the range of times |
//!
//! A follower without the attribute fails every `attr.KEY` test except under `not`
//! (`attr.level != gold` is false for a follower without `level`; `not attr.level = gold` is true).
//!
//! Combine with `and`, `or`, `not` and parentheses; `not` binds tightest, then `and`, then `or`.
//! Keywords are case-insensitive (`AND` works); names and values are exact (case-sensitive).
//!
//! # Values
//!
//! A value is a bare word (anything up to whitespace or one of `( ) , " = ! < >` or `..`) or a
//! double-quoted string with `\"` and `\\` escapes, e.g. `tag:"big spender"`, `attr."full name" = "A B"`.
//!
//! # Ranges
//!
//! `LO..HI` is half-open (LO ≤ x < HI) and `LO..=HI` includes HI; either bound may be left out
//! (`100..`, `..500`). For `subscribed_between` a bound is a date `2026-01-01` (midnight in the
//! account's timezone; an inclusive date bound `..=2026-01-31` includes that whole day), a local time
//! `2026-01-01T08:30` (or `T08:30:15`), or milliseconds since the epoch.
//!
//! # Subscription
//!
//! Unless the expression itself mentions `subscribed` or `unsubscribed`, a segment matches only
//! followers who are currently subscribed: `tag:vip` never selects someone who left. Write
//! `tag:vip and (subscribed or unsubscribed)` to include former followers, or `unsubscribed` for them
//! alone.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

use super::followers::Follower;
use crate::error::{PlazaError, Result};

/// Longest expression accepted, in bytes.
pub const MAX_SEGMENT_LEN: usize = 4096;
/// Deepest nesting of `not` and parentheses.
const MAX_DEPTH: usize = 32;
/// Most names in one `tags.any(…)` or values in one `in (…)`.
const MAX_LIST: usize = 100;

/// A parsed segment expression, ready to test followers.
#[derive(Clone)]
pub struct Segment {
    source: String,
    expr: Expr,
    /// The expression mentions `subscribed`/`unsubscribed`, so no implicit "subscribed" filter.
    explicit_subscription: bool,
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Segment").field(&self.source).finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Subscribed(bool),
    Tags(TagMode, Vec<String>),
    Attr(String, Test),
    Counter(String, NumTest),
    Field(Field, Test),
    ActiveWithin(u64),
    SubscribedWithin(u64),
    SubscribedBetween(TimeRange),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TagMode {
    Any,
    All,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Region,
    Gender,
    Language,
    Nickname,
    Scene,
}

impl Field {
    fn of(word: &str) -> Option<Field> {
        Some(match word {
            "region" => Field::Region,
            "gender" => Field::Gender,
            "language" => Field::Language,
            "nickname" => Field::Nickname,
            "scene" => Field::Scene,
            _ => return None,
        })
    }

    fn get<'f>(&self, f: &'f Follower) -> &'f str {
        match self {
            Field::Region => &f.region,
            Field::Gender => &f.gender,
            Field::Language => &f.language,
            Field::Nickname => &f.nickname,
            Field::Scene => f.subscribe_scene.as_deref().unwrap_or(""),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }

    fn ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// A test on a text value (attribute or profile field).
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Exists,
    /// Equality (text, or numeric when both sides are numbers).
    Eq(String, bool),
    /// Ordering: the value must be a number.
    Num(CmpOp, f64),
    In(Vec<String>),
    Range(NumRange),
}

/// A test on a counter (an integer; absent = 0).
#[derive(Debug, Clone, PartialEq)]
enum NumTest {
    Cmp(CmpOp, f64),
    Range(NumRange),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct NumRange {
    lo: Option<f64>,
    hi: Option<f64>,
    inclusive: bool,
}

impl NumRange {
    fn contains(&self, v: f64) -> bool {
        self.lo.is_none_or(|lo| v >= lo)
            && self
                .hi
                .is_none_or(|hi| if self.inclusive { v <= hi } else { v < hi })
    }
}

/// `[lo, hi)` in ms since the epoch (an inclusive bound is already turned into an exclusive one).
#[derive(Debug, Clone, Copy, PartialEq)]
struct TimeRange {
    lo: Option<u64>,
    hi: Option<u64>,
}

fn same_value(actual: &str, expected: &str) -> bool {
    if actual == expected {
        return true;
    }
    match (number(actual), number(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn number(s: &str) -> Option<f64> {
    let v: f64 = s.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

impl Test {
    /// `value` is `None` when the follower lacks the attribute; empty profile fields count as absent.
    fn eval(&self, value: Option<&str>) -> bool {
        let Some(v) = value else {
            return false;
        };
        match self {
            Test::Exists => true,
            Test::Eq(expected, equal) => same_value(v, expected) == *equal,
            Test::Num(op, n) => number(v)
                .and_then(|x| x.partial_cmp(n))
                .is_some_and(|o| op.holds(o)),
            Test::In(values) => values.iter().any(|e| same_value(v, e)),
            Test::Range(r) => number(v).is_some_and(|x| r.contains(x)),
        }
    }
}

impl Expr {
    fn eval(&self, f: &Follower, now_ms: u64) -> bool {
        match self {
            Expr::All => true,
            Expr::And(xs) => xs.iter().all(|x| x.eval(f, now_ms)),
            Expr::Or(xs) => xs.iter().any(|x| x.eval(f, now_ms)),
            Expr::Not(x) => !x.eval(f, now_ms),
            Expr::Subscribed(s) => f.subscribed == *s,
            Expr::Tags(mode, names) => {
                let has = |n: &String| f.tags.contains(n);
                match mode {
                    TagMode::Any => names.iter().any(has),
                    TagMode::All => names.iter().all(has),
                    TagMode::None => !names.iter().any(has),
                }
            }
            Expr::Attr(key, test) => test.eval(f.attributes.get(key).map(String::as_str)),
            Expr::Counter(name, test) => {
                let v = f.counters.get(name).copied().unwrap_or(0) as f64;
                match test {
                    NumTest::Cmp(op, n) => v.partial_cmp(n).is_some_and(|o| op.holds(o)),
                    NumTest::Range(r) => r.contains(v),
                }
            }
            Expr::Field(field, test) => {
                let v = field.get(f);
                test.eval((!v.is_empty()).then_some(v))
            }
            Expr::ActiveWithin(ms) => {
                f.last_interaction_at > 0 && now_ms.saturating_sub(f.last_interaction_at) <= *ms
            }
            Expr::SubscribedWithin(ms) => {
                f.subscribed_at > 0 && now_ms.saturating_sub(f.subscribed_at) <= *ms
            }
            Expr::SubscribedBetween(r) => {
                r.lo.is_none_or(|lo| f.subscribed_at >= lo)
                    && r.hi.is_none_or(|hi| f.subscribed_at < hi)
            }
        }
    }

    fn visit<'a>(&'a self, out: &mut dyn FnMut(&'a Expr)) {
        out(self);
        match self {
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| x.visit(out)),
            Expr::Not(x) => x.visit(out),
            _ => {}
        }
    }
}

impl Segment {
    /// Parses `expr`; dates in it are read in `timezone` (an IANA name, the account's).
    /// Bad syntax is `Invalid` naming the 1-based character position.
    pub fn parse(expr: &str, timezone: &str) -> Result<Segment> {
        if expr.len() > MAX_SEGMENT_LEN {
            return Err(PlazaError::invalid(format!(
                "segment is {} bytes; the limit is {MAX_SEGMENT_LEN}",
                expr.len()
            )));
        }
        let tz: chrono_tz::Tz = timezone
            .parse()
            .map_err(|_| PlazaError::invalid(format!("unknown timezone {timezone:?}")))?;
        let tokens = lex(expr)?;
        let mut p = Parser {
            src: expr,
            tokens,
            at: 0,
            tz,
            depth: 0,
        };
        let parsed = p.or()?;
        if let Some(t) = p.peek() {
            return Err(p.error_at(
                t.pos,
                &format!(
                    "expected `and`, `or` or the end, found {}",
                    describe(&t.kind)
                ),
            ));
        }
        let mut explicit_subscription = false;
        parsed.visit(&mut |e| {
            if matches!(e, Expr::Subscribed(_)) {
                explicit_subscription = true;
            }
        });
        Ok(Segment {
            source: expr.to_string(),
            expr: parsed,
            explicit_subscription,
        })
    }

    /// True when `follower` belongs to the segment at time `now_ms` (ms since the epoch). Unless the
    /// expression mentions `subscribed`/`unsubscribed`, only subscribed followers match.
    pub fn matches(&self, follower: &Follower, now_ms: u64) -> bool {
        (self.explicit_subscription || follower.subscribed) && self.expr.eval(follower, now_ms)
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the segment can select followers who are no longer subscribed.
    pub fn may_include_unsubscribed(&self) -> bool {
        self.explicit_subscription
    }

    /// Every tag name the expression mentions (e.g. to warn about tags that do not exist).
    pub fn referenced_tags(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        self.expr.visit(&mut |e| {
            if let Expr::Tags(_, names) = e {
                out.extend(names.iter().map(String::as_str));
            }
        });
        out
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
    /// `..` (false) or `..=` (true).
    Range(bool),
    Word(String),
    Quoted(String),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    /// 1-based character position in the expression.
    pos: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Op(op) => format!(
            "`{}`",
            match op {
                CmpOp::Eq => "=",
                CmpOp::Ne => "!=",
                CmpOp::Lt => "<",
                CmpOp::Le => "<=",
                CmpOp::Gt => ">",
                CmpOp::Ge => ">=",
            }
        ),
        Tok::Range(false) => "`..`".into(),
        Tok::Range(true) => "`..=`".into(),
        Tok::Word(w) => format!("`{w}`"),
        Tok::Quoted(q) => format!("{q:?}"),
    }
}

fn syntax(src: &str, pos: usize, msg: &str) -> PlazaError {
    PlazaError::invalid(format!("segment: {msg} at position {pos} in {src:?}"))
}

fn is_delim(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | ',' | '"' | '=' | '!' | '<' | '>')
}

fn lex(src: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        let next = chars.get(i + 1).copied();
        let (kind, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '=' if next == Some('=') => (Tok::Op(CmpOp::Eq), 2),
            '=' => (Tok::Op(CmpOp::Eq), 1),
            '!' if next == Some('=') => (Tok::Op(CmpOp::Ne), 2),
            '!' => return Err(syntax(src, pos, "unexpected `!` (write `not` or `!=`)")),
            '<' if next == Some('=') => (Tok::Op(CmpOp::Le), 2),
            '<' => (Tok::Op(CmpOp::Lt), 1),
            '>' if next == Some('=') => (Tok::Op(CmpOp::Ge), 2),
            '>' => (Tok::Op(CmpOp::Gt), 1),
            '.' if next == Some('.') => {
                if chars.get(i + 2) == Some(&'=') {
                    (Tok::Range(true), 3)
                } else {
                    (Tok::Range(false), 2)
                }
            }
            '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(syntax(src, pos, "unterminated string")),
                        Some('"') => break,
                        Some('\\') => match chars.get(j + 1) {
                            Some(e @ ('"' | '\\')) => {
                                s.push(*e);
                                j += 2;
                            }
                            _ => {
                                return Err(syntax(
                                    src,
                                    j + 1,
                                    "only \\\" and \\\\ may be escaped in a string",
                                ));
                            }
                        },
                        Some(ch) => {
                            s.push(*ch);
                            j += 1;
                        }
                    }
                }
                (Tok::Quoted(s), j + 1 - i)
            }
            _ => {
                let mut j = i;
                while j < chars.len()
                    && !is_delim(chars[j])
                    && !(chars[j] == '.' && chars.get(j + 1) == Some(&'.'))
                {
                    j += 1;
                }
                (Tok::Word(chars[i..j].iter().collect()), j - i)
            }
        };
        out.push(Token { kind, pos });
        i += len;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parser: or := and ("or" and)* ; and := unary ("and" unary)* ; unary := "not" unary | "(" or ")" | atom

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    at: usize,
    tz: chrono_tz::Tz,
    depth: usize,
}

const PREDICATES: &str = "all, subscribed, unsubscribed, tag:NAME, tags.any(…), tags.all(…), \
    tags.none(…), attr.KEY, counter.NAME, region, gender, language, nickname, scene, \
    active_within, subscribed_within, subscribed_between";

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        if t.is_some() {
            self.at += 1;
        }
        t
    }

    /// Position just past the end, for "expected … at the end" errors.
    fn end_pos(&self) -> usize {
        self.src.chars().count() + 1
    }

    fn error_at(&self, pos: usize, msg: &str) -> PlazaError {
        syntax(self.src, pos, msg)
    }

    /// An error about the next token (or the end of the expression).
    fn unexpected(&self, expected: &str) -> PlazaError {
        match self.peek() {
            Some(t) => self.error_at(
                t.pos,
                &format!("expected {expected}, found {}", describe(&t.kind)),
            ),
            None => self.error_at(
                self.end_pos(),
                &format!("expected {expected}, found the end"),
            ),
        }
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn eat(&mut self, kind: &Tok) -> bool {
        if self.peek().is_some_and(|t| &t.kind == kind) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kind: &Tok, what: &str) -> Result<()> {
        if self.eat(kind) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn nest(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.peek().map_or(self.end_pos(), |t| t.pos);
            return Err(self.error_at(pos, &format!("nested more than {MAX_DEPTH} levels deep")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr> {
        let mut xs = vec![self.and()?];
        while self.keyword("or") {
            self.at += 1;
            xs.push(self.and()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::Or(xs)
        })
    }

    fn and(&mut self) -> Result<Expr> {
        let mut xs = vec![self.unary()?];
        while self.keyword("and") {
            self.at += 1;
            xs.push(self.unary()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::And(xs)
        })
    }

    fn unary(&mut self) -> Result<Expr> {
        if self.keyword("not") {
            self.at += 1;
            self.nest()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.eat(&Tok::LParen) {
            self.nest()?;
            let inner = self.or()?;
            self.depth -= 1;
            self.expect(&Tok::RParen, "`)`")?;
            return Ok(inner);
        }
        self.atom()
    }

    /// A name or value: a bare word that is not a keyword, or a quoted string.
    fn value(&mut self, what: &str) -> Result<(String, usize)> {
        match self.peek() {
            Some(Token {
                kind: Tok::Quoted(q),
                pos,
            }) => {
                let r = (q.clone(), *pos);
                self.at += 1;
                Ok(r)
            }
            Some(Token {
                kind: Tok::Word(w),
                pos,
            }) if !["and", "or", "not"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                let r = (w.clone(), *pos);
                self.at += 1;
                Ok(r)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn name_after_prefix(&mut self, rest: &str, pos: usize, what: &str) -> Result<String> {
        if rest.is_empty() {
            // `tag:"big spender"`: the name is the quoted string right after the prefix.
            match self.peek() {
                Some(Token {
                    kind: Tok::Quoted(q),
                    ..
                }) => {
                    let q = q.clone();
                    self.at += 1;
                    if q.is_empty() {
                        return Err(self.error_at(pos, &format!("empty {what}")));
                    }
                    Ok(q)
                }
                _ => Err(self.unexpected(&format!("a {what}"))),
            }
        } else {
            Ok(rest.to_string())
        }
    }

    fn atom(&mut self) -> Result<Expr> {
        let Some(tok) = self.next() else {
            return Err(self.error_at(
                self.end_pos(),
                &format!("expected a predicate ({PREDICATES}), found the end"),
            ));
        };
        let Tok::Word(word) = &tok.kind else {
            return Err(self.error_at(
                tok.pos,
                &format!(
                    "expected a predicate ({PREDICATES}), found {}",
                    describe(&tok.kind)
                ),
            ));
        };
        let lower = word.to_ascii_lowercase();
        if let Some(rest) = word.strip_prefix("tag:") {
            let name = self.name_after_prefix(rest, tok.pos, "tag name")?;
            return Ok(Expr::Tags(TagMode::Any, vec![name]));
        }
        if let Some(rest) = word.strip_prefix("attr.") {
            let key = self.name_after_prefix(rest, tok.pos, "attribute name")?;
            return Ok(Expr::Attr(key, self.test(true)?));
        }
        if let Some(rest) = word.strip_prefix("counter.") {
            let name = self.name_after_prefix(rest, tok.pos, "counter name")?;
            return Ok(Expr::Counter(name, self.num_test()?));
        }
        if let Some(field) = Field::of(&lower) {
            return Ok(Expr::Field(field, self.test(false)?));
        }
        match lower.as_str() {
            "all" => Ok(Expr::All),
            "subscribed" => Ok(Expr::Subscribed(true)),
            "unsubscribed" => Ok(Expr::Subscribed(false)),
            "tags.any" | "tags.all" | "tags.none" => {
                let mode = match lower.as_str() {
                    "tags.any" => TagMode::Any,
                    "tags.all" => TagMode::All,
                    _ => TagMode::None,
                };
                let names = self.list("a tag name")?;
                Ok(Expr::Tags(mode, names))
            }
            "active_within" => Ok(Expr::ActiveWithin(self.duration()?)),
            "subscribed_within" => Ok(Expr::SubscribedWithin(self.duration()?)),
            "subscribed_between" => Ok(Expr::SubscribedBetween(self.time_range()?)),
            "and" | "or" => {
                Err(self.error_at(tok.pos, &format!("expected a predicate before `{word}`")))
            }
            _ => Err(self.error_at(
                tok.pos,
                &format!("unknown predicate `{word}`; known: {PREDICATES}"),
            )),
        }
    }

    /// `( v, v, … )`
    fn list(&mut self, what: &str) -> Result<Vec<String>> {
        self.expect(&Tok::LParen, "`(`")?;
        let mut out = Vec::new();
        loop {
            let (v, pos) = self.value(what)?;
            if v.is_empty() {
                return Err(self.error_at(pos, &format!("empty {what}")));
            }
            out.push(v);
            if out.len() > MAX_LIST {
                return Err(self.error_at(pos, &format!("more than {MAX_LIST} items in a list")));
            }
            if self.eat(&Tok::RParen) {
                return Ok(out);
            }
            self.expect(&Tok::Comma, "`,` or `)`")?;
        }
    }

    fn number(&mut self) -> Result<f64> {
        let (v, pos) = self.value("a number")?;
        number(&v).ok_or_else(|| self.error_at(pos, &format!("expected a number, found `{v}`")))
    }

    /// A number that may be absent (an open range bound): consumed only if it reads as a number.
    fn opt_number(&mut self) -> Option<f64> {
        let v = match self.peek() {
            Some(Token {
                kind: Tok::Word(w) | Tok::Quoted(w),
                ..
            }) => number(w),
            _ => None,
        };
        if v.is_some() {
            self.at += 1;
        }
        v
    }

    /// `..` (false) or `..=` (true).
    fn range_op(&mut self, example: &str) -> Result<bool> {
        match self.peek() {
            Some(Token {
                kind: Tok::Range(inclusive),
                ..
            }) => {
                let inclusive = *inclusive;
                self.at += 1;
                Ok(inclusive)
            }
            _ => Err(self.unexpected(&format!("`..` or `..=` (a range such as {example})"))),
        }
    }

    /// After `in`: `LO..HI`, `LO..=HI`, `..HI`, `LO..`.
    fn num_range(&mut self) -> Result<NumRange> {
        let lo = if matches!(
            self.peek(),
            Some(Token {
                kind: Tok::Range(_),
                ..
            })
        ) {
            None
        } else {
            Some(self.number()?)
        };
        let inclusive = self.range_op("100..500")?;
        let hi = self.opt_number();
        if inclusive && hi.is_none() {
            return Err(self.unexpected("an upper bound after `..=`"));
        }
        if lo.is_none() && hi.is_none() {
            return Err(self.unexpected("a bound: a range needs at least one"));
        }
        Ok(NumRange { lo, hi, inclusive })
    }

    /// A test on a text value: `= v`, `!= v`, `> n` …, `in (…)`, `in lo..hi`, `exists`.
    fn test(&mut self, numeric_allowed: bool) -> Result<Test> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.unexpected("a comparison (`=`, `!=`, `in`, `exists`, …)"));
        };
        match &tok.kind {
            Tok::Op(op) => {
                self.at += 1;
                if op.ordering() {
                    if !numeric_allowed {
                        return Err(self.error_at(
                            tok.pos,
                            "profile fields compare only with `=`, `!=`, `in (…)` or `exists`",
                        ));
                    }
                    return Ok(Test::Num(*op, self.number()?));
                }
                let (v, _) = self.value("a value")?;
                Ok(Test::Eq(v, *op == CmpOp::Eq))
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("exists") => {
                self.at += 1;
                Ok(Test::Exists)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("in") => {
                self.at += 1;
                if matches!(
                    self.peek(),
                    Some(Token {
                        kind: Tok::LParen,
                        ..
                    })
                ) {
                    return Ok(Test::In(self.list("a value")?));
                }
                if !numeric_allowed {
                    return Err(self.unexpected("`(` (a list of values)"));
                }
                Ok(Test::Range(self.num_range()?))
            }
            _ => Err(self.unexpected("a comparison (`=`, `!=`, `<`, `>=`, `in`, `exists`, …)")),
        }
    }

    fn num_test(&mut self) -> Result<NumTest> {
        match self.peek().cloned() {
            Some(Token {
                kind: Tok::Op(op), ..
            }) => {
                self.at += 1;
                Ok(NumTest::Cmp(op, self.number()?))
            }
            Some(Token {
                kind: Tok::Word(w), ..
            }) if w.eq_ignore_ascii_case("in") => {
                self.at += 1;
                Ok(NumTest::Range(self.num_range()?))
            }
            _ => Err(self.unexpected("a comparison (`=`, `!=`, `<`, `>=`, `in`, …)")),
        }
    }

    /// `30m`, `12h`, `7d`, `2w`, `90s` in milliseconds.
    fn duration(&mut self) -> Result<u64> {
        let (v, pos) = self.value("a duration such as 7d")?;
        let bad = || {
            self.error_at(
                pos,
                &format!("expected a duration such as 30m, 12h, 7d or 2w, found `{v}`"),
            )
        };
        let split = v.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = v.split_at(split);
        let n: u64 = n.parse().map_err(|_| bad())?;
        let unit_ms: u64 = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(bad()),
        };
        n.checked_mul(unit_ms).ok_or_else(bad)
    }

    /// A time bound: (start ms, end ms of the smallest unit it names: a day, a second, a ms).
    fn time(&self, v: &str, pos: usize) -> Result<(u64, u64)> {
        let bad = |why: &str| {
            self.error_at(
                pos,
                &format!(
                    "expected a date (2026-01-31), a local time (2026-01-31T08:30) or ms since the epoch, found `{v}`{why}"
                ),
            )
        };
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            let ms: u64 = v.parse().map_err(|_| bad(""))?;
            return Ok((ms, ms.saturating_add(1)));
        }
        let local = |naive: NaiveDateTime| -> Result<u64> {
            let t = self
                .tz
                .from_local_datetime(&naive)
                .earliest()
                .ok_or_else(|| {
                    bad(" (that local time does not exist in the account's timezone)")
                })?;
            u64::try_from(t.timestamp_millis()).map_err(|_| bad(" (before 1970)"))
        };
        if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            let start = local(d.and_hms_opt(0, 0, 0).ok_or_else(|| bad(""))?)?;
            let next = d.succ_opt().ok_or_else(|| bad(""))?;
            let end = local(next.and_hms_opt(0, 0, 0).ok_or_else(|| bad(""))?)?;
            return Ok((start, end));
        }
        for (fmt, step) in [("%Y-%m-%dT%H:%M:%S", 1_000), ("%Y-%m-%dT%H:%M", 60_000)] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(v, fmt) {
                let start = local(dt)?;
                return Ok((start, start.saturating_add(step)));
            }
        }
        Err(bad(""))
    }

    fn time_range(&mut self) -> Result<TimeRange> {
        let lo = if matches!(
            self.peek(),
            Some(Token {
                kind: Tok::Range(_),
                ..
            })
        ) {
            None
        } else {
            let (v, pos) = self.value("a date such as 2026-01-01")?;
            Some(self.time(&v, pos)?.0)
        };
        let inclusive = self.range_op("2026-01-01..2026-02-01")?;
        // The upper bound is optional: take the next value only if it reads as a time.
        let hi = match self.peek().cloned() {
            Some(Token {
                kind: Tok::Word(w) | Tok::Quoted(w),
                pos,
            }) if !["and", "or", "not"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                self.at += 1;
                let (start, end) = self.time(&w, pos)?;
                Some(if inclusive { end } else { start })
            }
            _ => None,
        };
        if inclusive && hi.is_none() {
            return Err(self.unexpected("an upper bound after `..=`"));
        }
        if lo.is_none() && hi.is_none() {
            return Err(self.unexpected("a bound: a range needs at least one"));
        }
        Ok(TimeRange { lo, hi })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: &str = "Asia/Shanghai";
    const DAY: u64 = 86_400_000;
    /// 2026-01-15 12:00 in Shanghai (04:00 UTC).
    const NOW: u64 = 1_768_449_600_000;

    fn seg(s: &str) -> Segment {
        match Segment::parse(s, TZ) {
            Ok(x) => x,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn err(s: &str) -> String {
        match Segment::parse(s, TZ) {
            Ok(x) => panic!("{s:?} should not parse, got {x:?}"),
            Err(e) => {
                assert_eq!(e.code(), "invalid", "{e}");
                e.message()
            }
        }
    }

    fn follower() -> Follower {
        Follower {
            openid: "o-1".into(),
            nickname: "Ann".into(),
            region: "Shanghai".into(),
            gender: "female".into(),
            language: "zh_CN".into(),
            subscribed: true,
            subscribed_at: NOW - 10 * DAY,
            subscribe_scene: Some("qr-42".into()),
            unsubscribed_at: None,
            last_interaction_at: NOW - 2 * DAY,
            tags: vec!["vip".into(), "big spender".into()],
            attributes: [("level", "gold"), ("spend", "250"), ("score", "7.5")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            counters: [("purchases", 3), ("messages", 12)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }

    fn is(s: &str) -> bool {
        seg(s).matches(&follower(), NOW)
    }

    #[test]
    fn tags() {
        assert!(is("tag:vip"));
        assert!(!is("tag:churned"));
        assert!(is("tag:vip and not tag:churned"));
        assert!(is("tag:\"big spender\""));
        assert!(is("tags.any(churned, vip)"));
        assert!(!is("tags.any(churned, lapsed)"));
        assert!(is("tags.all(vip, \"big spender\")"));
        assert!(!is("tags.all(vip, churned)"));
        assert!(is("tags.none(churned, lapsed)"));
        assert!(!is("tags.none(churned, vip)"));
        assert!(!is("tag:VIP"), "names are case-sensitive");
        assert!(is("TAGS.ANY(vip)"), "keywords are not");
        assert!(is("tag:会员 or tag:vip"));
        let s = seg("tag:a or tags.all(b, \"c d\") and not tags.none(e)");
        assert_eq!(
            s.referenced_tags().into_iter().collect::<Vec<_>>(),
            ["a", "b", "c d", "e"]
        );
    }

    #[test]
    fn attributes() {
        assert!(is("attr.level = gold"));
        assert!(is("attr.level == gold"));
        assert!(!is("attr.level = silver"));
        assert!(is("attr.level != silver"));
        assert!(is("attr.spend >= 100"));
        assert!(is("attr.spend>=250"));
        assert!(!is("attr.spend > 250"));
        assert!(is("attr.spend <= 250"));
        assert!(!is("attr.spend < 250"));
        assert!(is("attr.spend = 250.0"), "numeric equality");
        assert!(is("attr.score in 7..8"));
        assert!(is("attr.spend in 100..500"));
        assert!(!is("attr.spend in 100..250"), "half-open");
        assert!(is("attr.spend in 100..=250"), "inclusive");
        assert!(is("attr.spend in 250.."));
        assert!(is("attr.spend in ..251"));
        assert!(!is("attr.spend in ..250"));
        assert!(is("attr.level in (silver, gold)"));
        assert!(!is("attr.level in (silver, bronze)"));
        assert!(is("attr.level exists"));
        assert!(!is("attr.missing exists"));
        // A missing attribute fails every test, `!=` included; `not` flips it.
        assert!(!is("attr.missing != gold"));
        assert!(is("not attr.missing = gold"));
        assert!(!is("attr.missing < 5"));
        // Non-numeric values never satisfy numeric tests.
        assert!(!is("attr.level > 0"));
        assert!(!is("attr.level in 0.."));
        assert!(is("attr.\"level\" = \"gold\""));
    }

    #[test]
    fn counters_and_fields() {
        assert!(is("counter.purchases >= 3"));
        assert!(!is("counter.purchases > 3"));
        assert!(is("counter.purchases = 3"));
        assert!(is("counter.messages in 10..20"));
        assert!(is("counter.refunds = 0"), "a counter never counted is 0");
        assert!(is("counter.refunds < 1"));
        assert!(is("region = Shanghai"));
        assert!(!is("region = shanghai"));
        assert!(is("region in (Beijing, Shanghai)"));
        assert!(is("gender = female and language = zh_CN"));
        assert!(is("gender != male"));
        assert!(is("scene = qr-42"));
        assert!(is("nickname exists"));
        let mut f = follower();
        f.region.clear();
        let s = seg("region exists");
        assert!(!s.matches(&f, NOW), "an empty field does not exist");
        assert!(!seg("region != Beijing").matches(&f, NOW));
    }

    #[test]
    fn time() {
        assert!(is("active_within 2d"));
        assert!(!is("active_within 47h"));
        assert!(is("active_within 1w"));
        assert!(!is("active_within 3600s"));
        assert!(is("subscribed_within 10d"));
        assert!(!is("subscribed_within 9d"));
        // Subscribed 2026-01-05 12:00 Shanghai.
        assert!(is("subscribed_between 2026-01-01..2026-02-01"));
        assert!(is("subscribed_between 2026-01-05..2026-01-06"));
        assert!(!is("subscribed_between 2026-01-06..2026-02-01"));
        assert!(!is("subscribed_between 2025-12-01..2026-01-05"));
        assert!(
            is("subscribed_between 2025-12-01..=2026-01-05"),
            "inclusive date = whole day"
        );
        assert!(is("subscribed_between 2026-01-05T12:00..2026-01-05T12:01"));
        assert!(!is("subscribed_between 2026-01-05T12:00:01.."));
        assert!(is("subscribed_between ..=2026-01-05T12:00"));
        assert!(!is("subscribed_between ..2026-01-05T12:00"));
        let at = NOW - 10 * DAY;
        assert!(is(&format!("subscribed_between {at}..{}", at + 1)));
        assert!(is(&format!("subscribed_between {at}..={at}")));
        assert!(!is(&format!("subscribed_between {}..", at + 1)));
        assert!(is("subscribed_between 2026-01-01.. and tag:vip"));
    }

    #[test]
    fn dates_are_read_in_the_account_timezone() {
        // 2026-01-05 02:00 in Shanghai is 2026-01-04 18:00 UTC.
        let mut f = follower();
        f.subscribed_at = 1_767_549_600_000;
        let sh = Segment::parse("subscribed_between 2026-01-05..2026-01-06", "Asia/Shanghai")
            .unwrap_or_else(|e| panic!("{e}"));
        let utc = Segment::parse("subscribed_between 2026-01-05..2026-01-06", "UTC")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(sh.matches(&f, NOW));
        assert!(!utc.matches(&f, NOW));
        assert!(Segment::parse("all", "Mars/Olympus").is_err());
    }

    #[test]
    fn boolean_structure_and_precedence() {
        assert!(is("all"));
        assert!(is("tag:x or tag:vip and attr.level = gold"));
        // `and` binds tighter than `or`: tag:vip or (tag:x and tag:y)
        assert!(is("tag:vip or tag:x and tag:y"));
        assert!(!is("(tag:vip or tag:x) and tag:y"));
        assert!(is("not not tag:vip"));
        assert!(!is("not (tag:vip or tag:x)"));
        assert!(is("NOT tag:x AND tag:vip OR tag:y"));
        assert!(is("((((tag:vip))))"));
    }

    #[test]
    fn only_subscribed_followers_unless_said_otherwise() {
        let mut gone = follower();
        gone.subscribed = false;
        assert!(!seg("tag:vip").matches(&gone, NOW));
        assert!(!seg("all").matches(&gone, NOW));
        assert!(seg("tag:vip and (subscribed or unsubscribed)").matches(&gone, NOW));
        assert!(seg("unsubscribed").matches(&gone, NOW));
        assert!(!seg("unsubscribed").matches(&follower(), NOW));
        assert!(seg("subscribed").matches(&follower(), NOW));
        assert!(!seg("subscribed").matches(&gone, NOW));
        assert!(seg("not subscribed").may_include_unsubscribed());
        assert!(!seg("tag:vip").may_include_unsubscribed());
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let m = err("tag:vip and");
        assert!(m.contains("position 12"), "{m}");
        assert!(m.contains("found the end"), "{m}");
        let m = err("tag:vip or or tag:x");
        assert!(m.contains("position 12"), "{m}");
        let m = err("tags.any(a, b");
        assert!(m.contains("`,` or `)`") && m.contains("position 14"), "{m}");
        let m = err("attr.spend >= lots");
        assert!(
            m.contains("expected a number") && m.contains("position 15"),
            "{m}"
        );
        let m = err("frobnicate");
        assert!(
            m.contains("unknown predicate `frobnicate`") && m.contains("position 1"),
            "{m}"
        );
        let m = err("tag:vip tag:x");
        assert!(
            m.contains("expected `and`, `or` or the end") && m.contains("position 9"),
            "{m}"
        );
        let m = err("(tag:vip");
        assert!(m.contains("`)`"), "{m}");
        let m = err("active_within soon");
        assert!(m.contains("duration") && m.contains("position 15"), "{m}");
        let m = err("active_within 7y");
        assert!(m.contains("duration"), "{m}");
        let m = err("subscribed_between 2026-13-01..2026-02-01");
        assert!(
            m.contains("expected a date") && m.contains("position 20"),
            "{m}"
        );
        let m = err("subscribed_between 2026-01-01");
        assert!(m.contains("`..`"), "{m}");
        let m = err("tag:\"open");
        assert!(
            m.contains("unterminated string") && m.contains("position 5"),
            "{m}"
        );
        let m = err("!tag:vip");
        assert!(m.contains("`not`"), "{m}");
        let m = err("region > 5");
        assert!(m.contains("profile fields"), "{m}");
        let m = err("attr.spend in ..");
        assert!(m.contains("bound"), "{m}");
        let m = err("attr.spend in 1..=");
        assert!(m.contains("upper bound"), "{m}");
        let m = err("tags.any()");
        assert!(m.contains("tag name"), "{m}");
        let m = err("tag:");
        assert!(m.contains("tag name"), "{m}");
        let m = err("");
        assert!(m.contains("position 1"), "{m}");
        let m = err("counter.purchases");
        assert!(m.contains("comparison"), "{m}");
        // Positions count characters, not bytes.
        let m = err("tag:会员 and )");
        assert!(m.contains("position 12"), "{m}");
    }

    #[test]
    fn limits() {
        let deep = format!("{}tag:a{}", "(".repeat(40), ")".repeat(40));
        assert!(err(&deep).contains("nested"));
        let nots = format!("{}tag:a", "not ".repeat(40));
        assert!(err(&nots).contains("nested"));
        let long = format!("tag:{}", "a".repeat(MAX_SEGMENT_LEN));
        assert!(err(&long).contains("limit"));
        let many = format!(
            "tags.any({})",
            (0..=MAX_LIST)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(err(&many).contains("items"));
        assert!(err("active_within 99999999999999999999d").contains("duration"));
    }

    #[test]
    fn source_and_display() {
        let s = seg("tag:vip  and not tag:x");
        assert_eq!(s.source(), "tag:vip  and not tag:x");
        assert_eq!(s.to_string(), "tag:vip  and not tag:x");
    }
}
