//! RFC 8288 (ex-5988) `Link` headers, which is how GitHub says where the next page is.

/// The URL of the link with relation `rel` (e.g. `next`) in a `Link` header value, if any.
///
/// Accepts several links in one value, quoted or bare `rel` values and `rel` lists
/// (`rel="next last"`); URLs are taken between `<` and `>`, so commas inside them are fine.
pub fn link_rel(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let url = &after[..close];
        let params_and_more = &after[close + 1..];
        // Parameters of this link run until the next link starts.
        let end = params_and_more.find('<').unwrap_or(params_and_more.len());
        let params = &params_and_more[..end];
        for param in params.split(';') {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("rel") {
                continue;
            }
            let value = value.trim().trim_end_matches(',').trim().trim_matches('"');
            if value
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case(rel))
            {
                return Some(url.to_owned());
            }
        }
        rest = &params_and_more[end..];
    }
    None
}

/// Number of list requests needed for `n` items at `per_page` items a page (at least one).
pub fn pages_needed(n: usize, per_page: usize) -> usize {
    n.div_ceil(per_page).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GH: &str = "<https://api.github.com/orgs/o/actions/runners?per_page=100&page=2>; rel=\"next\", <https://api.github.com/orgs/o/actions/runners?per_page=100&page=3>; rel=\"last\"";

    #[test]
    fn finds_next_and_last() {
        assert_eq!(
            link_rel(GH, "next").as_deref(),
            Some("https://api.github.com/orgs/o/actions/runners?per_page=100&page=2")
        );
        assert_eq!(
            link_rel(GH, "last").as_deref(),
            Some("https://api.github.com/orgs/o/actions/runners?per_page=100&page=3")
        );
        assert_eq!(link_rel(GH, "prev"), None);
    }

    #[test]
    fn last_page_has_no_next() {
        let h = "<http://x/a?page=1>; rel=\"prev\", <http://x/a?page=1>; rel=\"first\"";
        assert_eq!(link_rel(h, "next"), None);
        assert_eq!(link_rel("", "next"), None);
    }

    #[test]
    fn tolerates_odd_but_valid_forms() {
        assert_eq!(
            link_rel("<http://x/?a=1,2>;rel=next", "next").as_deref(),
            Some("http://x/?a=1,2")
        );
        assert_eq!(
            link_rel("<http://x/p2>; title=\"t\"; rel=\"last next\"", "next").as_deref(),
            Some("http://x/p2")
        );
        assert_eq!(
            link_rel("<http://x/p2>; REL=\"Next\"", "next").as_deref(),
            Some("http://x/p2")
        );
        assert_eq!(link_rel("<http://x/p2", "next"), None);
    }

    #[test]
    fn counts_pages() {
        assert_eq!(pages_needed(0, 100), 1);
        assert_eq!(pages_needed(100, 100), 1);
        assert_eq!(pages_needed(101, 100), 2);
        assert_eq!(pages_needed(250, 100), 3);
    }
}
