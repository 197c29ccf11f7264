//! The rules every reader applies to a text field, JSON Lines and CSV,
//! `invoice` and `charge` alike, so one question has one answer:
//!
//! - an id, a tier name, a customer, a payment method or a currency code
//!   never has leading or trailing whitespace (` gold` is refused, not read
//!   as an unknown tier that silently loses the discount);
//! - none contains a control character (a line break in an id would fake
//!   lines of text output; an escape sequence would reach a terminal).
//!
//! A value that breaks either rule is refused with a message naming the
//! field and showing an excerpt of the value (`pricing::excerpt`: a 1 MiB
//! id makes a short error) with its control characters escaped.

use pricing::excerpt;

/// Why a text field is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FieldError {
    /// The value starts or ends with whitespace.
    #[error("{field} {value:?} has leading or trailing whitespace")]
    Whitespace {
        /// The field's name.
        field: &'static str,
        /// An excerpt of the value as read.
        value: String,
    },
    /// The value holds a control character.
    #[error("{field} {value:?} contains a control character")]
    Control {
        /// The field's name.
        field: &'static str,
        /// An excerpt of the value as read.
        value: String,
    },
}

/// Checks `value` of the text field `field` against the rules above.
pub(crate) fn check(field: &'static str, value: &str) -> Result<(), FieldError> {
    let bytes = value.as_bytes();
    // One pass over the bytes decides ASCII text; anything else (rare in
    // ids and tier names) is checked character by character.
    let mut control = false;
    let mut ascii = true;
    for &byte in bytes {
        control |= byte < 0x20 || byte == 0x7f;
        ascii &= byte < 0x80;
    }
    if ascii {
        return ascii_verdict(field, value, control);
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::Control {
            field,
            value: excerpt(value),
        });
    }
    if value.trim() != value {
        return Err(FieldError::Whitespace {
            field,
            value: excerpt(value),
        });
    }
    Ok(())
}

/// [`check`]'s verdict on ASCII text, where a control character is a byte
/// below 0x20 or 0x7f (`control` says whether there is one), and the only
/// whitespace that is not one is the space: the same verdicts, without
/// decoding characters (ids and tier names of large exports are ASCII, and
/// millions are checked).
fn ascii_verdict(field: &'static str, value: &str, control: bool) -> Result<(), FieldError> {
    if control {
        return Err(FieldError::Control {
            field,
            value: excerpt(value),
        });
    }
    let bytes = value.as_bytes();
    if bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return Err(FieldError::Whitespace {
            field,
            value: excerpt(value),
        });
    }
    Ok(())
}

/// `text` for a line of text output: control characters escaped as Rust
/// escapes them (`\n`, `\u{1b}`), everything else as it is.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_pass_and_inner_spaces_are_fine() {
        assert_eq!(check("id", "INV-1"), Ok(()));
        assert_eq!(check("tier", "gold"), Ok(()));
        assert_eq!(check("id", "INV 1"), Ok(()));
        assert_eq!(check("id", ""), Ok(()));
    }

    #[test]
    fn surrounding_whitespace_is_refused_naming_the_field() {
        for value in [" gold", "gold ", "\u{a0}gold", "gold\u{2003}"] {
            assert_eq!(
                check("tier", value).unwrap_err().to_string(),
                format!("tier {value:?} has leading or trailing whitespace")
            );
        }
    }

    #[test]
    fn control_characters_are_refused_wherever_they_are() {
        for value in ["A\nB", "\tA", "A\u{1b}[2J", "A\u{7f}", "A\u{85}", "A\r"] {
            assert!(
                matches!(
                    check("id", value),
                    Err(FieldError::Control { field: "id", .. })
                ),
                "{value:?}"
            );
        }
        assert_eq!(
            check("id", "A\nB").unwrap_err().to_string(),
            "id \"A\\nB\" contains a control character"
        );
    }

    /// The rules as first written, on characters, for any text.
    fn check_by_characters(value: &str) -> Result<(), &'static str> {
        if value.chars().any(char::is_control) {
            Err("control")
        } else if value.trim() != value {
            Err("whitespace")
        } else {
            Ok(())
        }
    }

    fn verdict(value: &str) -> Result<(), &'static str> {
        check("id", value).map_err(|error| match error {
            FieldError::Control { .. } => "control",
            FieldError::Whitespace { .. } => "whitespace",
        })
    }

    #[test]
    fn every_ascii_byte_at_either_end_or_inside_gets_the_verdict_of_the_character_rules() {
        for byte in 0_u8..=0x7f {
            let c = char::from(byte);
            for value in [
                format!("{c}A"),
                format!("A{c}"),
                format!("A{c}B"),
                c.to_string(),
            ] {
                assert_eq!(verdict(&value), check_by_characters(&value), "{value:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_gets_the_verdict_of_the_character_rules(value in "[ -~\\t\\n\\r\u{7f}\u{85}\u{a0}\u{2003}é]{0,8}") {
            proptest::prop_assert_eq!(verdict(&value), check_by_characters(&value));
        }
    }

    #[test]
    fn text_output_escapes_control_characters_only() {
        assert_eq!(printable("INV-1 é"), "INV-1 é");
        assert_eq!(printable("A\nB\u{1b}[2J"), "A\\nB\\u{1b}[2J");
    }
}
