//! Page pagination for every `/api/v1` list: `?page=1&per_page=50` in, an envelope with the
//! total out, so a program knows when it has everything. Pages count from 1; `per_page` is
//! capped so that no request can ask for an unbounded answer.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, bad_request};

/// The largest `per_page` served.
pub const MAX_PER_PAGE: u32 = 500;
/// `per_page` when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// `?page=&per_page=`.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1 (default 1).
    pub page: Option<u32>,
    /// Items a page, 1–500 (default 50).
    pub per_page: Option<u32>,
}

impl PageParams {
    /// The page and its size, checked.
    pub fn resolve(self) -> Result<(u32, u32), AppError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page == 0 {
            return Err(bad_request("page counts from 1"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(bad_request(format!("per_page must be between 1 and {MAX_PER_PAGE}")));
        }
        Ok((page, per_page))
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    /// Items in the whole list.
    pub total: u64,
}

impl<T> Paged<T> {
    /// The asked-for page of a list that is already whole in memory (the registry's lists are
    /// small; measurement lists page in the store instead).
    pub fn of(all: Vec<T>, params: PageParams) -> Result<Paged<T>, AppError> {
        let (page, per_page) = params.resolve()?;
        let total = all.len() as u64;
        let skip = (page as usize - 1).saturating_mul(per_page as usize);
        let items = all.into_iter().skip(skip).take(per_page as usize).collect();
        Ok(Paged { items, page, per_page, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_count_from_one_and_say_the_total() {
        let p = Paged::of((1..=7).collect(), PageParams { page: Some(2), per_page: Some(3) }).unwrap();
        assert_eq!((p.items, p.page, p.per_page, p.total), (vec![4, 5, 6], 2, 3, 7));
        let last = Paged::of((1..=7).collect(), PageParams { page: Some(3), per_page: Some(3) }).unwrap();
        assert_eq!(last.items, vec![7]);
        let beyond =
            Paged::of((1..=7).collect::<Vec<i32>>(), PageParams { page: Some(9), per_page: None }).unwrap();
        assert!(beyond.items.is_empty());
        assert_eq!(beyond.total, 7);
    }

    #[test]
    fn out_of_range_paging_is_refused_with_the_reason() {
        let e = PageParams { page: Some(0), per_page: None }.resolve().unwrap_err();
        assert!(e.to_string().contains("from 1"));
        let e = PageParams { page: None, per_page: Some(501) }.resolve().unwrap_err();
        assert!(e.to_string().contains("between 1 and 500"));
    }
}
