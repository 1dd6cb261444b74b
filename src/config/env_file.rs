//! The `/etc/ecs/ecs.config` format: what both systemd `EnvironmentFile=` and
//! `docker --env-file` agree on, plus the quoting systemd adds.
//!
//! - one `KEY=VALUE` per line; LF or CRLF line ends; a leading UTF-8 BOM is
//!   ignored;
//! - blank lines and lines whose first non-blank character is `#` or `;` are
//!   comments; `#` later in a line is part of the value (JSON values and
//!   URLs contain it), as in both systemd and docker;
//! - an optional `export ` prefix (shell-style files);
//! - whitespace around the key and around the value is dropped;
//! - the value is split from the key at the first `=`, so values may contain
//!   `=`; `KEY=` is an empty value;
//! - a value wholly inside `"..."` or `'...'` is unquoted. Inside double
//!   quotes `\"`, `\\`, `` \` `` and `\$` are unescaped (systemd); single
//!   quotes are literal. Unquoted values are taken literally, backslashes
//!   included (docker), so unquoted JSON keeps its escapes;
//! - a key given twice: the later line wins (returned in order; callers that
//!   build a map get this for free).
//!
//! Anything else is an error naming the 1-based line number, rather than
//! silently dropping a setting the operator meant to apply.

use super::error::{ConfigError, EnvFileProblem};

/// Parse env-file text into `(key, value)` pairs in file order.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let fail = |problem| ConfigError::EnvFile { line, problem };
        let content = raw.strip_suffix('\r').unwrap_or(raw).trim();
        if content.is_empty() || content.starts_with('#') || content.starts_with(';') {
            continue;
        }
        let content = strip_export(content);
        let (key, value) = content
            .split_once('=')
            .ok_or(fail(EnvFileProblem::MissingEquals))?;
        let key = key.trim();
        if !is_valid_key(key) {
            return Err(fail(EnvFileProblem::InvalidKey(key.to_string())));
        }
        let value = unquote(value.trim()).map_err(fail)?;
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn strip_export(content: &str) -> &str {
    match content.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
        _ => content,
    }
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(value: &str) -> Result<String, EnvFileProblem> {
    if let Some(rest) = value.strip_prefix('\'') {
        let end = rest
            .find('\'')
            .ok_or(EnvFileProblem::UnterminatedQuote("single"))?;
        if !rest[end + 1..].trim().is_empty() {
            return Err(EnvFileProblem::TextAfterQuote);
        }
        return Ok(rest[..end].to_string());
    }
    if let Some(rest) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    if !rest[i + 1..].trim().is_empty() {
                        return Err(EnvFileProblem::TextAfterQuote);
                    }
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\' | '`' | '$'))) => out.push(e),
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                },
                other => out.push(other),
            }
        }
        return Err(EnvFileProblem::UnterminatedQuote("double"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_env_file(text).unwrap()
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    fn err(text: &str) -> (usize, EnvFileProblem) {
        match parse_env_file(text) {
            Err(ConfigError::EnvFile { line, problem }) => (line, problem),
            other => panic!("expected an env-file error, got {other:?}"),
        }
    }

    #[test]
    fn empty_and_comment_only_files() {
        assert!(pairs("").is_empty());
        assert!(pairs("\n\n   \n\t\n").is_empty());
        assert!(pairs("# comment\n  # indented\n; semicolon\n").is_empty());
    }

    #[test]
    fn basic_lines() {
        assert_eq!(
            pairs("ECS_CLUSTER=prod\nECS_LOGLEVEL=debug\n"),
            vec![kv("ECS_CLUSTER", "prod"), kv("ECS_LOGLEVEL", "debug")]
        );
        // No trailing newline.
        assert_eq!(pairs("A=1"), vec![kv("A", "1")]);
    }

    #[test]
    fn crlf_line_endings() {
        assert_eq!(
            pairs("A=1\r\nB=two\r\n# c\r\n\r\n"),
            vec![kv("A", "1"), kv("B", "two")]
        );
        assert_eq!(pairs("A=\"q\"\r\n"), vec![kv("A", "q")]);
    }

    #[test]
    fn bom_is_ignored() {
        assert_eq!(pairs("\u{feff}A=1\n"), vec![kv("A", "1")]);
    }

    #[test]
    fn export_prefix() {
        assert_eq!(
            pairs("export A=1\nexport\tB=2\n  export   C=3"),
            vec![kv("A", "1"), kv("B", "2"), kv("C", "3")]
        );
        // A variable that merely starts with "export" is not a prefix.
        assert_eq!(pairs("exportER=1"), vec![kv("exportER", "1")]);
    }

    #[test]
    fn equals_in_values_and_empty_values() {
        assert_eq!(
            pairs("A=b=c==\nB=\nC=\"\"\nD=''"),
            vec![kv("A", "b=c=="), kv("B", ""), kv("C", ""), kv("D", "")]
        );
    }

    #[test]
    fn whitespace_around_key_and_value() {
        assert_eq!(
            pairs("  A =  spaced value  \n\tB\t=\tx\t"),
            vec![kv("A", "spaced value"), kv("B", "x")]
        );
    }

    #[test]
    fn hash_inside_value_is_not_a_comment() {
        assert_eq!(
            pairs("A=foo # bar\nB=http://h/#frag"),
            vec![kv("A", "foo # bar"), kv("B", "http://h/#frag")]
        );
    }

    #[test]
    fn double_quotes() {
        assert_eq!(pairs(r#"A="hello world""#), vec![kv("A", "hello world")]);
        assert_eq!(
            pairs(r#"A="say \"hi\" \\ \$HOME \` \n""#),
            vec![kv("A", r#"say "hi" \ $HOME ` \n"#)]
        );
        assert_eq!(pairs(r#"A="it's""#), vec![kv("A", "it's")]);
        assert_eq!(pairs("A=\"  padded  \"  "), vec![kv("A", "  padded  ")]);
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(
            pairs(r#"A='{"a":"b\"c"}'"#),
            vec![kv("A", r#"{"a":"b\"c"}"#)]
        );
        assert_eq!(pairs(r#"A='say "hi"'"#), vec![kv("A", r#"say "hi""#)]);
    }

    #[test]
    fn unquoted_values_are_literal() {
        let json = r#"ECS_INSTANCE_ATTRIBUTES={"stack":"prod","a\"b":"c\\d"}"#;
        assert_eq!(
            pairs(json),
            vec![kv(
                "ECS_INSTANCE_ATTRIBUTES",
                r#"{"stack":"prod","a\"b":"c\\d"}"#
            )]
        );
        // A quote that does not open the value is just a character.
        assert_eq!(pairs(r#"A=a"b"#), vec![kv("A", r#"a"b"#)]);
    }

    #[test]
    fn later_duplicate_is_kept_in_order() {
        assert_eq!(pairs("A=1\nA=2"), vec![kv("A", "1"), kv("A", "2")]);
    }

    #[test]
    fn missing_equals_names_the_line() {
        assert_eq!(
            err("A=1\n\n# c\nNOVALUE\n"),
            (4, EnvFileProblem::MissingEquals)
        );
        let msg = parse_env_file("A=1\nNOVALUE").unwrap_err().to_string();
        assert_eq!(msg, "line 2: expected KEY=VALUE, found no '='");
    }

    #[test]
    fn invalid_keys() {
        assert_eq!(err("=x"), (1, EnvFileProblem::InvalidKey(String::new())));
        assert_eq!(
            err("A=1\n1A=x"),
            (2, EnvFileProblem::InvalidKey("1A".into()))
        );
        assert_eq!(err("A-B=x"), (1, EnvFileProblem::InvalidKey("A-B".into())));
        assert_eq!(err("A B=x"), (1, EnvFileProblem::InvalidKey("A B".into())));
        assert!(parse_env_file("A-B=x")
            .unwrap_err()
            .to_string()
            .contains("\"A-B\""));
    }

    #[test]
    fn quote_errors() {
        assert_eq!(
            err("A=\"open"),
            (1, EnvFileProblem::UnterminatedQuote("double"))
        );
        assert_eq!(
            err("A=\"ends in escape\\\""),
            (1, EnvFileProblem::UnterminatedQuote("double"))
        );
        assert_eq!(
            err("A=1\nB='open"),
            (2, EnvFileProblem::UnterminatedQuote("single"))
        );
        assert_eq!(err("A=\"x\"y"), (1, EnvFileProblem::TextAfterQuote));
        assert_eq!(err("A='x'y"), (1, EnvFileProblem::TextAfterQuote));
        assert_eq!(
            parse_env_file("\n\nA='x").unwrap_err().to_string(),
            "line 3: unterminated single quote in value"
        );
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "\u{feff}",
            "é=1",
            "A=\"é\\",
            "A='é",
            "A=\"\\é\"",
            "A=\"é\"é",
            "export",
            "export ",
            "export =1",
            "\r",
            "\r\n\r\n",
            "A=\u{0}",
            "=",
            "==",
            "A==",
        ] {
            let _ = parse_env_file(text);
        }
        assert_eq!(pairs("A=\"\\é\""), vec![kv("A", "\\é")]);
        assert_eq!(pairs("A=é=ü"), vec![kv("A", "é=ü")]);
    }
}
