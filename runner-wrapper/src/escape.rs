//! Escaping for values that may hold newlines or tabs (check output, reasons) inside the
//! line-based files of the lock directory: `\\`, `\n`, `\r`, `\t`.

pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s
}

pub fn unescape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            s.push(c);
            continue;
        }
        match it.next() {
            Some('n') => s.push('\n'),
            Some('r') => s.push('\r'),
            Some('t') => s.push('\t'),
            Some(other) => s.push(other),
            None => s.push('\\'),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for v in ["", "plain", "a\nb\tc\\d\re", "\\n literal", "trailing\\"] {
            let e = escape(v);
            assert!(!e.contains(['\n', '\t', '\r']), "{e:?}");
            assert_eq!(unescape(&e), v);
        }
    }
}
