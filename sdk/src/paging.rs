//! One iterator for every cursor-paged host listing (storage prefixes, followers, the event log),
//! so that each wrapper only says how to fetch a page.

use crate::Error;

/// Items of every page, fetched as the iterator advances: `fetch(cursor)` returns a page's items
/// and the cursor of the next page (`None` on the last). A failing page ends the iteration with
/// its error.
pub(crate) fn pages<T, F>(mut fetch: F) -> impl Iterator<Item = Result<T, Error>>
where
    F: FnMut(Option<&str>) -> Result<(Vec<T>, Option<String>), Error>,
{
    let mut cursor: Option<String> = None;
    let mut buffered = Vec::new().into_iter();
    let mut done = false;
    core::iter::from_fn(move || {
        loop {
            if let Some(item) = buffered.next() {
                return Some(Ok(item));
            }
            if done {
                return None;
            }
            match fetch(cursor.as_deref()) {
                Ok((items, next)) => {
                    done = next.is_none();
                    cursor = next;
                    buffered = items.into_iter();
                }
                Err(e) => {
                    done = true;
                    return Some(Err(e));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_cursors_to_the_last_page_and_stops_at_an_error() {
        let all: Vec<u32> = pages(|cursor| {
            Ok(match cursor {
                None => (vec![1, 2], Some("a".into())),
                Some("a") => (vec![], Some("b".into())),
                _ => (vec![3], None),
            })
        })
        .collect::<Result<_, _>>()
        .unwrap();
        assert_eq!(all, [1, 2, 3]);
        let mut calls = 0;
        let got: Vec<_> = pages::<u32, _>(|_| {
            calls += 1;
            Err(Error::unavailable("down"))
        })
        .collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }
}
