//! The rule for the name a person shows in a room: chosen at sign-up, kept with
//! the account, and taken by the server from the session (never from a frame).

pub const MAX_DISPLAY_NAME_CHARS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    #[error("Please choose a display name.")]
    Empty,
    #[error("Display names have at most {MAX_DISPLAY_NAME_CHARS} characters.")]
    TooLong,
    #[error("Display names cannot contain control characters.")]
    ControlCharacter,
}

/// Trims `input`, folds inner white space to single spaces, and checks it.
pub fn parse_display_name(input: &str) -> Result<String, DisplayNameError> {
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(DisplayNameError::Empty);
    }
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(DisplayNameError::TooLong);
    }
    if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(DisplayNameError::ControlCharacter);
    }
    Ok(name)
}

/// Characters that reorder the text around them (embeddings, overrides, isolates,
/// marks): a name must not flip its neighbours, nor a message its readers' view.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{200E}' | '\u{200F}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_folds_space() {
        assert_eq!(parse_display_name("  Ada   Lovelace ").unwrap(), "Ada Lovelace");
        assert_eq!(parse_display_name("Zoë 🦀").unwrap(), "Zoë 🦀");
    }

    #[test]
    fn rejects() {
        assert_eq!(parse_display_name(" \t").unwrap_err(), DisplayNameError::Empty);
        assert_eq!(parse_display_name(&"x".repeat(MAX_DISPLAY_NAME_CHARS + 1)).unwrap_err(), DisplayNameError::TooLong);
        assert_eq!(parse_display_name("evil\u{202E}txt").unwrap_err(), DisplayNameError::ControlCharacter);
        assert_eq!(
            parse_display_name("ali\u{061C}ce").unwrap_err(),
            DisplayNameError::ControlCharacter,
            "the Arabic letter mark reorders text too"
        );
        assert_eq!(parse_display_name("a\u{7}b").unwrap_err(), DisplayNameError::ControlCharacter);
    }
}
