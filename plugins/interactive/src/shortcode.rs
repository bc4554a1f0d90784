//! Short codes in article text: `[vote id=…]`, `[survey id=…]`, `[challenge id=…]`.
//!
//! An editor writes them into an article; whoever renders the article (the editor plugin through
//! `component.render`, or the operator preview `POST /admin/render`) replaces each by the
//! component's snippet. Anything that is not a well-formed short code of a known kind stays text.

/// The kinds of component a short code can name.
pub const KINDS: [&str; 3] = ["vote", "survey", "challenge"];

/// A piece of parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Code { kind: &'a str, id: &'a str },
}

/// `text` split into plain text and short codes, in order.
pub fn parse(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut plain_start = 0;
    let mut offset = 0;
    while let Some(open) = rest.find('[') {
        let at = offset + open;
        let after = &text[at + 1..];
        match code_at(after) {
            Some((kind, id, len)) => {
                if at > plain_start {
                    pieces.push(Piece::Text(&text[plain_start..at]));
                }
                pieces.push(Piece::Code { kind, id });
                plain_start = at + 1 + len;
                offset = plain_start;
            }
            None => offset = at + 1,
        }
        rest = &text[offset..];
    }
    if plain_start < text.len() {
        pieces.push(Piece::Text(&text[plain_start..]));
    }
    pieces
}

/// `kind id=value]` at the start of `s` (after the `[`): the kind, the id and the bytes used
/// (including the `]`). The id may be quoted with `"`.
fn code_at(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find(']')?;
    let inner = &s[..close];
    let (kind, attrs) = inner.split_once(char::is_whitespace)?;
    let kind = KINDS.iter().copied().find(|k| *k == kind)?;
    let value = attrs.trim().strip_prefix("id=")?;
    let id = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    let valid = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some((kind, id, close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_between_text() {
        let pieces = parse("Hi [vote id=v1] and [survey id=\"s-2\"][challenge id=c_3].");
        assert_eq!(
            pieces,
            vec![
                Piece::Text("Hi "),
                Piece::Code {
                    kind: "vote",
                    id: "v1"
                },
                Piece::Text(" and "),
                Piece::Code {
                    kind: "survey",
                    id: "s-2"
                },
                Piece::Code {
                    kind: "challenge",
                    id: "c_3"
                },
                Piece::Text("."),
            ]
        );
    }

    #[test]
    fn anything_else_stays_text() {
        for text in [
            "[vote]",
            "[poll id=1]",
            "[vote id=a b]",
            "[vote id=<x>]",
            "[vote id=",
            "a [b] c",
            "[[vote id=",
        ] {
            assert_eq!(parse(text), vec![Piece::Text(text)], "{text}");
        }
        assert_eq!(
            parse("[[vote id=x]"),
            vec![
                Piece::Text("["),
                Piece::Code {
                    kind: "vote",
                    id: "x"
                }
            ]
        );
        assert_eq!(
            parse("投票：[vote id=v]"),
            vec![
                Piece::Text("投票："),
                Piece::Code {
                    kind: "vote",
                    id: "v"
                }
            ]
        );
        assert!(parse("").is_empty());
    }
}
