//! The rule condition language: comparisons of features with numbers, joined by `and`, `or`,
//! `not` and parentheses.
//!
//! ```text
//! expr       := and_expr ("or" and_expr)*
//! and_expr   := unary ("and" unary)*
//! unary      := "not" unary | "(" expr ")" | comparison
//! comparison := feature op number | number op feature
//! op         := ">=" | "<=" | ">" | "<" | "==" | "!="
//! ```
//!
//! Features are named as in [`crate::features`]; numbers are decimal literals (`3`, `0.8`, `1e3`).
//! Parsing fails with the column (1-based) and what was expected, so a bad rules file is refused
//! with a message that points at the mistake.

use crate::features::{Feature, FeatureVector};

/// Longest condition accepted, in bytes.
pub const MAX_CONDITION_BYTES: usize = 4096;
/// Deepest nesting of `not` and parentheses accepted (keeps evaluation and parsing stack-bounded).
pub const MAX_CONDITION_DEPTH: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    fn apply(self, a: f64, b: f64) -> bool {
        match self {
            Op::Ge => a >= b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Lt => a < b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }

    fn flipped(self) -> Op {
        match self {
            Op::Ge => Op::Le,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Lt => Op::Gt,
            Op::Eq => Op::Eq,
            Op::Ne => Op::Ne,
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `feature op value`
    Compare(Feature, Op, f64),
    /// All of these.
    And(Vec<Condition>),
    /// Any of these.
    Or(Vec<Condition>),
    /// Not this.
    Not(Box<Condition>),
}

impl Condition {
    /// Does the condition hold for these features?
    pub fn eval(&self, f: &FeatureVector) -> bool {
        match self {
            Condition::Compare(feature, op, v) => op.apply(f.get(*feature), *v),
            Condition::And(cs) => cs.iter().all(|c| c.eval(f)),
            Condition::Or(cs) => cs.iter().any(|c| c.eval(f)),
            Condition::Not(c) => !c.eval(f),
        }
    }

    /// Every feature the condition reads.
    pub fn features(&self, out: &mut Vec<Feature>) {
        match self {
            Condition::Compare(feature, _, _) => {
                if !out.contains(feature) {
                    out.push(*feature);
                }
            }
            Condition::And(cs) | Condition::Or(cs) => cs.iter().for_each(|c| c.features(out)),
            Condition::Not(c) => c.features(out),
        }
    }
}

/// Why a condition did not parse: at which column, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based column (in characters... bytes, which are the same for the ASCII the language uses).
    pub column: usize,
    /// What was wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
    End,
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |i: usize, m: String| ParseError { column: i + 1, message: m };
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            b'>' | b'<' | b'=' | b'!' => {
                let two = bytes.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'>', true) => Op::Ge,
                    (b'<', true) => Op::Le,
                    (b'>', false) => Op::Gt,
                    (b'<', false) => Op::Lt,
                    (b'=', true) => Op::Eq,
                    (b'!', true) => Op::Ne,
                    _ => {
                        return Err(err(
                            i,
                            format!("unknown operator {:?}; expected >=, <=, >, <, == or !=", c as char),
                        ));
                    }
                };
                out.push((i, Tok::Op(op)));
                i += if two { 2 } else { 1 };
            }
            b'0'..=b'9' | b'.' | b'-' => {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_digit()
                        || bytes[i] == b'.'
                        || bytes[i] == b'e'
                        || bytes[i] == b'E'
                        || ((bytes[i] == b'-' || bytes[i] == b'+') && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                let text = &src[start..i];
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => out.push((start, Tok::Num(v))),
                    _ => return Err(err(start, format!("{text:?} is not a number"))),
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push((start, Tok::Ident(src[start..i].to_string())));
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(i, format!("unexpected character {ch:?}")));
            }
        }
    }
    out.push((src.len(), Tok::End));
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].1
    }

    fn column(&self) -> usize {
        self.toks[self.pos].0 + 1
    }

    fn fail<T>(&self, message: String) -> Result<T, ParseError> {
        Err(ParseError { column: self.column(), message })
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }

    fn expr(&mut self) -> Result<Condition, ParseError> {
        let mut parts = vec![self.and_expr()?];
        while self.keyword("or") {
            self.pos += 1;
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Condition::And(Vec::new())) } else { Condition::Or(parts) })
    }

    fn and_expr(&mut self) -> Result<Condition, ParseError> {
        let mut parts = vec![self.unary()?];
        while self.keyword("and") {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Condition::And(Vec::new())) } else { Condition::And(parts) })
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Parser) -> Result<T, ParseError>) -> Result<T, ParseError> {
        self.depth += 1;
        if self.depth > MAX_CONDITION_DEPTH {
            return self.fail(format!("nested deeper than {MAX_CONDITION_DEPTH} levels"));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn unary(&mut self) -> Result<Condition, ParseError> {
        if self.keyword("not") {
            self.pos += 1;
            return self.nested(|p| Ok(Condition::Not(Box::new(p.unary()?))));
        }
        if *self.peek() == Tok::LParen {
            self.pos += 1;
            let inner = self.nested(|p| p.expr())?;
            if *self.peek() != Tok::RParen {
                return self.fail("expected `)`".into());
            }
            self.pos += 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn feature(&mut self) -> Result<Feature, ParseError> {
        match self.peek().clone() {
            Tok::Ident(name) => match Feature::from_name(&name) {
                Some(f) => {
                    self.pos += 1;
                    Ok(f)
                }
                None => self.fail(format!("unknown feature {name:?} (features: {})", feature_names())),
            },
            other => self.fail(format!("expected a feature name, found {}", describe(&other))),
        }
    }

    fn op(&mut self) -> Result<Op, ParseError> {
        match self.peek() {
            Tok::Op(op) => {
                let op = *op;
                self.pos += 1;
                Ok(op)
            }
            other => self.fail(format!("expected a comparison (>=, <=, >, <, ==, !=), found {}", describe(other))),
        }
    }

    fn comparison(&mut self) -> Result<Condition, ParseError> {
        if let Tok::Num(v) = *self.peek() {
            self.pos += 1;
            let op = self.op()?;
            let f = self.feature()?;
            return Ok(Condition::Compare(f, op.flipped(), v));
        }
        let f = self.feature()?;
        let op = self.op()?;
        match *self.peek() {
            Tok::Num(v) => {
                self.pos += 1;
                Ok(Condition::Compare(f, op, v))
            }
            ref other => self.fail(format!("expected a number, found {}", describe(other))),
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("{s:?}"),
        Tok::Num(v) => format!("the number {v}"),
        Tok::Op(_) => "an operator".into(),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::End => "the end of the condition".into(),
    }
}

fn feature_names() -> String {
    Feature::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}

/// Parse a condition.
pub fn parse(src: &str) -> Result<Condition, ParseError> {
    if src.len() > MAX_CONDITION_BYTES {
        return Err(ParseError { column: 1, message: format!("longer than {MAX_CONDITION_BYTES} bytes") });
    }
    let mut p = Parser { toks: lex(src)?, pos: 0, depth: 0 };
    if *p.peek() == Tok::End {
        return p.fail("the condition is empty".into());
    }
    let c = p.expr()?;
    if *p.peek() != Tok::End {
        return p.fail(format!("expected `and`, `or` or the end, found {}", describe(p.peek())));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fv(pairs: &[(Feature, f64)]) -> FeatureVector {
        let mut f = FeatureVector::default();
        for (k, v) in pairs {
            f.set(*k, *v);
        }
        f
    }

    #[test]
    fn precedence_and_evaluation() {
        let c = parse("out_count_1m >= 5 or amount_z > 4 and not (new_counterparty == 1)").unwrap();
        assert!(c.eval(&fv(&[(Feature::OutCount1m, 5.0)])));
        assert!(c.eval(&fv(&[(Feature::AmountZ, 4.5)])));
        assert!(!c.eval(&fv(&[(Feature::AmountZ, 4.5), (Feature::NewCounterparty, 1.0)])));
        assert!(!c.eval(&fv(&[(Feature::OutCount1m, 4.0)])));
        let flipped = parse("3 <= near_threshold_24h").unwrap();
        assert_eq!(flipped, Condition::Compare(Feature::NearThreshold24h, Op::Ge, 3.0));
        assert!(parse("amount >= 1e3").unwrap().eval(&fv(&[(Feature::Amount, 1000.0)])));
        assert!(parse("amount_z > -1.5").unwrap().eval(&fv(&[])));
    }

    #[test]
    fn errors_point_at_the_mistake() {
        let e = parse("out_count_1m >= 5 and amout > 3").unwrap_err();
        assert_eq!(e.column, 23);
        assert!(e.message.contains("unknown feature \"amout\""), "{e}");
        let e = parse("out_count_1m >=").unwrap_err();
        assert_eq!(e.column, 16);
        assert!(e.message.contains("expected a number"), "{e}");
        let e = parse("(amount > 1").unwrap_err();
        assert!(e.message.contains("expected `)`"), "{e}");
        let e = parse("amount > 1 amount").unwrap_err();
        assert_eq!(e.column, 12);
        assert!(parse("").unwrap_err().message.contains("empty"));
        assert!(parse("amount => 1").unwrap_err().message.contains("unknown operator"));
        assert!(parse("amount > 1 ; drop").unwrap_err().message.contains("unexpected character"));
        let deep = format!("{}amount > 1{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
        let features = {
            let mut v = Vec::new();
            parse("amount > 1 and (fan_in_1h > 2 or amount < 9)").unwrap().features(&mut v);
            v
        };
        assert_eq!(features, vec![Feature::Amount, Feature::FanIn1h]);
    }
}
