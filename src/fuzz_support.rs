//! Structured fuzzing of the parsers that take outside input, run inside
//! `cargo test` on stable Rust (arbtest drives the random choices; a failure
//! prints the seed that reproduces it, `ARBTEST_BUDGET_MS` runs longer).
//!
//! Random bytes alone rarely get past the first `{`, so inputs are mostly
//! made from valid samples of each format: bytes spliced, dropped, repeated or
//! case-flipped, tokens that break parsers (huge numbers, NUL, deep nesting)
//! inserted, and for JSON, values replaced at random paths by values of the
//! wrong type, so that the typed decoders behind the syntax are reached too.
//! The only property checked is the one that matters at a boundary: the
//! parser returns (an error is fine) and does not panic.

use arbtest::arbitrary::{Result, Unstructured};
use serde_json::Value;

/// How long each target runs in a normal `cargo test`.
const BUDGET_MS: u64 = 400;

/// `ARBTEST_BUDGET_MS` if set (arbtest itself lets an explicit budget win
/// over it, which made the variable do nothing here), else `BUDGET_MS`.
fn budget_ms() -> u64 {
    std::env::var("ARBTEST_BUDGET_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BUDGET_MS)
}

/// Tokens that have broken parsers before: number edge cases, escapes,
/// separators, unbalanced brackets, non-ASCII.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "true",
    "-1",
    "0",
    "-0",
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "65536",
    "NaN",
    "\\u0000",
    "\\ud800",
    "\u{0}",
    "é",
    "\u{10ffff}",
    "\n",
    "\r\n",
    "=",
    "/",
    "@",
    "sha256:",
    "%",
    "%zz",
    "..",
    "//",
    " ",
    "\t",
    "#",
    "'",
    "${",
    "ms",
    "h",
    "µs",
];

/// Runs `f` on inputs derived from `seeds` (strings).
pub fn strings(seeds: &[&str], f: impl Fn(&str)) {
    bytes(seeds, |b| f(&String::from_utf8_lossy(b)));
}

/// Runs `f` on inputs derived from `seeds` (bytes, possibly not UTF-8).
pub fn bytes(seeds: &[&str], f: impl Fn(&[u8])) {
    arbtest::arbtest(|u| {
        let input = derive(u, seeds)?;
        f(&input);
        Ok(())
    })
    .budget_ms(budget_ms());
}

/// Runs `f` on JSON documents derived from `seeds`: mostly well-formed JSON
/// whose values were replaced at random paths, sometimes byte-mutated text.
pub fn json(seeds: &[&str], f: impl Fn(&str)) {
    let docs: Vec<Value> = seeds
        .iter()
        .filter_map(|s| serde_json::from_str(s).ok())
        .collect();
    assert_eq!(docs.len(), seeds.len(), "every JSON seed must parse");
    arbtest::arbtest(|u| {
        if u.ratio(1, 5)? {
            let input = derive(u, seeds)?;
            f(&String::from_utf8_lossy(&input));
            return Ok(());
        }
        let mut doc = u.choose(&docs)?.clone();
        for _ in 0..u.int_in_range(1..=3)? {
            mutate_value(u, &mut doc, 0)?;
        }
        f(&doc.to_string());
        Ok(())
    })
    .budget_ms(budget_ms());
}

/// Runs `f` with arbtest's source of random choices, for targets that build
/// structured input themselves (a map of variables, a request).
pub fn run(mut f: impl FnMut(&mut Unstructured<'_>) -> Result<()>) {
    arbtest::arbtest(|u| f(u)).budget_ms(budget_ms());
}

/// One input derived from `seeds` as text (invalid UTF-8 replaced).
pub fn text(u: &mut Unstructured<'_>, seeds: &[&str]) -> Result<String> {
    Ok(String::from_utf8_lossy(&derive(u, seeds)?).into_owned())
}

fn derive(u: &mut Unstructured<'_>, seeds: &[&str]) -> Result<Vec<u8>> {
    if seeds.is_empty() || u.ratio(1, 8)? {
        return u.arbitrary::<Vec<u8>>();
    }
    let mut b = u.choose(seeds)?.as_bytes().to_vec();
    for _ in 0..u.int_in_range(1..=8)? {
        mutate_bytes(u, &mut b)?;
    }
    Ok(b)
}

fn mutate_bytes(u: &mut Unstructured<'_>, b: &mut Vec<u8>) -> Result<()> {
    let len = b.len();
    let at = if len == 0 {
        0
    } else {
        u.choose_index(len + 1)?
    };
    match u.int_in_range(0..=6)? {
        0 => b.insert(at.min(b.len()), u.arbitrary()?),
        1 if len > 0 => {
            let end = (at + u.int_in_range(1..=16)?).min(len);
            b.drain(at.min(len)..end);
        }
        2 => {
            let t = u.choose(TOKENS)?.as_bytes();
            b.splice(at..at, t.iter().copied());
        }
        3 if len > 0 => {
            let end = (at + u.int_in_range(1..=32)?).min(len);
            let piece = b[at.min(len)..end].to_vec();
            b.splice(end..end, piece);
        }
        4 => b.truncate(at),
        5 if len > 0 => {
            // Keys differing only in case: Go decodes them as the same field.
            let end = (at + u.int_in_range(1..=16)?).min(len);
            for c in &mut b[at.min(len)..end] {
                if c.is_ascii_lowercase() {
                    c.make_ascii_uppercase();
                } else {
                    c.make_ascii_lowercase();
                }
            }
        }
        _ => {
            let depth = u.int_in_range(1..=200)?;
            let nest: Vec<u8> = std::iter::repeat_n(b'[', depth)
                .chain(std::iter::repeat_n(b']', depth))
                .collect();
            b.splice(at..at, nest);
        }
    }
    Ok(())
}

fn mutate_value(u: &mut Unstructured<'_>, v: &mut Value, depth: usize) -> Result<()> {
    let descend = depth == 0 || (depth < 12 && u.ratio(9, 10)?);
    match v {
        Value::Object(m) if descend && !m.is_empty() => {
            let key = u.choose(&m.keys().cloned().collect::<Vec<_>>())?.clone();
            if u.ratio(1, 10)? {
                // The same value under a differently cased or an unknown key.
                if let Some(inner) = m.remove(&key) {
                    let renamed = if u.arbitrary()? {
                        key.to_ascii_uppercase()
                    } else {
                        format!("{key}Unknown")
                    };
                    m.insert(renamed, inner);
                }
                return Ok(());
            }
            if let Some(inner) = m.get_mut(&key) {
                return mutate_value(u, inner, depth + 1);
            }
            Ok(())
        }
        Value::Array(a) if descend && !a.is_empty() => {
            let i = u.choose_index(a.len())?;
            if u.ratio(1, 10)? {
                let copy = a[i].clone();
                a.push(copy);
                return Ok(());
            }
            mutate_value(u, &mut a[i], depth + 1)
        }
        _ => {
            // Mostly a value of the same JSON type, so that the typed decoder
            // accepts the frame and the validation behind it is reached.
            *v = if u.ratio(4, 5)? {
                same_type_value(u, v)?
            } else {
                random_value(u)?
            };
            Ok(())
        }
    }
}

fn same_type_value(u: &mut Unstructured<'_>, v: &Value) -> Result<Value> {
    Ok(match v {
        Value::String(s) => {
            let seed = s.clone();
            Value::from(text(u, &[seed.as_str(), ""])?)
        }
        Value::Number(_) => match u.int_in_range(0..=4)? {
            0 => Value::from(u.arbitrary::<i64>()?),
            1 => Value::from(u.int_in_range(0..=70000u32)?),
            2 => Value::from(-(u.int_in_range(1..=5000i64)?)),
            3 => Value::from(u64::MAX),
            _ => serde_json::Number::from_f64(u.arbitrary::<f64>()?)
                .map(Value::Number)
                .unwrap_or(Value::Null),
        },
        Value::Bool(_) => Value::Bool(u.arbitrary()?),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(_) => Value::Object(serde_json::Map::new()),
        Value::Null => random_value(u)?,
    })
}

fn random_value(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=11)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        4 => serde_json::Number::from_f64(u.arbitrary::<f64>()?)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        5 => Value::from(-1),
        6 => Value::from(""),
        7 => Value::from(u.choose(TOKENS)?.to_string()),
        8 => Value::from(u.arbitrary::<String>()?),
        9 => Value::Array(vec![Value::Null, Value::from(1)]),
        10 => Value::Object(serde_json::Map::new()),
        _ => Value::from("{\"nested\": [\"json\", \"in\", \"a\", \"string\"]}"),
    })
}
