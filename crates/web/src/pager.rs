//! Page numbers for the pages' lists: `?page=N` in, the links to the pages before and after out,
//! keeping the list's other query parameters (its filters).

use crate::local_path;

/// Rows a page of a list shows.
pub const PER_PAGE: u32 = 50;

/// Where a list stands: its page, how many pages, and the links around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    pub page: u32,
    pub pages: u32,
    pub total: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// The pager of page `page` (from 1) of `total` rows at `path`, whose other query parameters
    /// are `query` (name, value; empty values are left out).
    pub fn new(path: &str, query: &[(&str, &str)], page: u32, total: u64) -> Pager {
        let pages = total.div_ceil(u64::from(PER_PAGE)).max(1).min(u64::from(u32::MAX)) as u32;
        let page = page.clamp(1, pages);
        let href = |p: u32| {
            let mut parts: Vec<String> = query
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}={}", local_path::encode(v)))
                .collect();
            parts.push(format!("page={p}"));
            format!("{path}?{}", parts.join("&"))
        };
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| href(page - 1)),
            next: (page < pages).then(|| href(page + 1)),
        }
    }

    /// Rows to skip for this page.
    pub fn offset(&self) -> usize {
        (self.page as usize - 1) * PER_PAGE as usize
    }

    /// This page's rows of a list already whole in memory.
    pub fn slice<T>(&self, all: Vec<T>) -> Vec<T> {
        all.into_iter().skip(self.offset()).take(PER_PAGE as usize).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters_and_stop_at_the_ends() {
        let p = Pager::new("/audit", &[("actor", "root"), ("kind", "")], 2, 120);
        assert_eq!((p.page, p.pages, p.offset()), (2, 3, 50));
        assert_eq!(p.prev.as_deref(), Some("/audit?actor=root&page=1"));
        assert_eq!(p.next.as_deref(), Some("/audit?actor=root&page=3"));
        let first = Pager::new("/x", &[], 0, 0);
        assert_eq!((first.page, first.pages, first.prev, first.next), (1, 1, None, None));
        let beyond = Pager::new("/x", &[], 9, 51);
        assert_eq!(beyond.page, 2, "a page past the end shows the last");
        assert_eq!(beyond.slice((0..51).collect::<Vec<_>>()), [50]);
    }
}
