//! Listings a page at a time, written once for both backends: each backend
//! only says how it reads one page, and the rules of [`Ledger::list`]
//! (cursor, filter, limit, when to stop) are these.
//!
//! [`Ledger::list`]: billing::Ledger::list

use billing::{InvoiceFilter, InvoiceId, InvoiceRecord, LedgerError};

/// How many invoice ids a filtered listing reads per query: a page of
/// invoices that may not pass the filter, never every invoice at once.
pub(crate) const LIST_CHUNK: usize = 256;

/// `n` as SQL's 64-bit integer, for a `LIMIT` or a cursor: a count beyond
/// `i64::MAX` cannot be stored, so it means "no limit".
pub(crate) fn sql_int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// A listing filtered by one id: that invoice's `record` (read by the
/// backend) if it comes after `after`, passes the filter and there is room.
pub(crate) fn by_id(
    filter: &InvoiceFilter,
    id: &InvoiceId,
    after: Option<&InvoiceId>,
    limit: usize,
    record: Option<InvoiceRecord>,
) -> Vec<InvoiceRecord> {
    let beyond = after.is_none_or(|after| id > after);
    record
        .filter(|record| beyond && filter.matches(record) && limit > 0)
        .into_iter()
        .collect()
}

/// The invoices after `after` that pass `filter`, in id order, at most
/// `limit` of them.
///
/// `page(cursor)` reads the ids of the next [`LIST_CHUNK`] invoices after
/// `cursor` (`""` before the first) in id order, each with whatever the
/// backend read along with it (`T`: nothing, or the record itself when one
/// query reads a page of records); `record(id, read)` turns one of them
/// into its record, and is only called while the listing still has room.
/// A page shorter than [`LIST_CHUNK`] is the last.
pub(crate) fn filtered<T>(
    filter: &InvoiceFilter,
    after: Option<&InvoiceId>,
    limit: usize,
    mut page: impl FnMut(&str) -> Result<Vec<(String, T)>, LedgerError>,
    mut record: impl FnMut(&str, T) -> Result<Option<InvoiceRecord>, LedgerError>,
) -> Result<Vec<InvoiceRecord>, LedgerError> {
    let mut found = Vec::new();
    let mut cursor = after.map(|id| id.as_str().to_owned()).unwrap_or_default();
    while found.len() < limit {
        let ids = page(&cursor)?;
        let Some((last, _)) = ids.last() else { break };
        cursor.clone_from(last);
        let exhausted = ids.len() < LIST_CHUNK;
        for (id, read) in ids {
            if found.len() == limit {
                break;
            }
            if let Some(record) = record(&id, read)?
                && filter.matches(&record)
            {
                found.push(record);
            }
        }
        if exhausted {
            break;
        }
    }
    Ok(found)
}
