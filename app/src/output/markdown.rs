//! Text copied from an input into a Markdown report (a job summary),
//! escaped so that it can only ever be text.

/// `text` from an input (an id, an error message, a path) as Markdown
/// shows it literally: every text the Markdown report copies from its
/// inputs goes through here. A job summary renders links, images, HTML and
/// tables, and the files compared may hold any id: `![x](http://…)`,
/// `<img …>` or a `|` must come out as those characters, not as a picture,
/// markup or a new table column. So every ASCII punctuation character
/// (which `CommonMark` lets a backslash escape, and from which every Markdown
/// construct is made, GitHub's autolinks, emphasis and math included) gets
/// a backslash, except `<`, `>` and `&`, written as HTML entities, and `-`,
/// left as it is: inside a table cell or a list item it starts nothing, and
/// ids such as `REF-000001` stay what a reviewer (or a script) searches; a
/// control character (a line break would end the table row) is shown as
/// Rust escapes it, `\n`, its backslash escaped in turn.
pub(crate) fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            for escaped in c.escape_debug() {
                push_markdown(&mut out, escaped);
            }
        } else {
            push_markdown(&mut out, c);
        }
    }
    out
}

/// Appends one character that is not a control character, escaped as
/// [`markdown`] says.
fn push_markdown(out: &mut String, c: char) {
    match c {
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '&' => out.push_str("&amp;"),
        '-' => out.push('-'),
        _ if c.is_ascii_punctuation() => {
            out.push('\\');
            out.push(c);
        }
        _ => out.push(c),
    }
}
