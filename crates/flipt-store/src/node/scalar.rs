//! YAML 1.2 core-schema resolution of scalars.
//!
//! Flipt decodes flag files with a YAML 1.2 decoder, so `yes`/`on` are
//! strings, not booleans; only the core schema's forms are typed.

use yaml_rust2::{parser::Tag, scanner::TScalarStyle};

use super::ScalarKind;

/// Resolves a scalar with the YAML 1.2 core schema.
pub(super) fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> ScalarKind {
    if let Some(tag) = tag {
        if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
            if tag.suffix == "str" {
                return ScalarKind::Str;
            }
        } else {
            // Local tags (`!foo`) carry no meaning for flag files: keep the text.
            return ScalarKind::Str;
        }
    }
    if style != TScalarStyle::Plain {
        return ScalarKind::Str;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" => return ScalarKind::Bool(true),
        "false" | "False" | "FALSE" => return ScalarKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return ScalarKind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return ScalarKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return ScalarKind::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return ScalarKind::Int(i);
    }
    if is_core_int(text) {
        return match text.parse::<i64>() {
            Ok(i) => ScalarKind::Int(i),
            // Too large for i64: still a number.
            Err(_) => text
                .parse::<f64>()
                .map_or(ScalarKind::Str, ScalarKind::Float),
        };
    }
    if is_core_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return ScalarKind::Float(f);
    }
    ScalarKind::Str
}

/// `[-+]?[0-9]+`
fn is_core_int(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && (!int.is_empty() || !frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(is_core_int);
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(text: &str) -> ScalarKind {
        resolve(text, TScalarStyle::Plain, None)
    }

    #[test]
    fn resolves_plain_scalars_with_the_core_schema() {
        assert_eq!(kind_of(""), ScalarKind::Null);
        assert_eq!(kind_of("~"), ScalarKind::Null);
        assert_eq!(kind_of("True"), ScalarKind::Bool(true));
        assert_eq!(kind_of("yes"), ScalarKind::Str);
        assert_eq!(kind_of("42"), ScalarKind::Int(42));
        assert_eq!(kind_of("-7"), ScalarKind::Int(-7));
        assert_eq!(kind_of("0x1f"), ScalarKind::Int(31));
        assert_eq!(kind_of("1.5"), ScalarKind::Float(1.5));
        assert_eq!(kind_of("1e3"), ScalarKind::Float(1000.0));
        assert_eq!(kind_of(".5"), ScalarKind::Float(0.5));
        assert_eq!(kind_of("1.0"), ScalarKind::Float(1.0));
        assert_eq!(kind_of("1.2.3"), ScalarKind::Str);
        assert_eq!(kind_of("e5"), ScalarKind::Str);
        assert_eq!(kind_of("inf"), ScalarKind::Str);
        assert_eq!(
            resolve("42", TScalarStyle::DoubleQuoted, None),
            ScalarKind::Str
        );
    }
}
