//! Names of the pre-aggregated measures: the contract between the rollup SQL of ioc-processor,
//! which writes them into `measures_daily` and `measures_monthly`, and ioc-api, which combines
//! them into indicators. Declared once here; a test of each side checks that the SQL writes
//! exactly [`ALL`] and that the API reads exactly [`ALL`], so a misspelt name fails in seconds
//! instead of reading as a silent zero.
//!
//! Every measure counts entities (or their seconds) on the local day of the instant it is about;
//! a flow sums a period's days, a stock sums every day before the period's end.

/// Dossiers received (reception events only; the go-live backlog was received before).
pub const RECEIVED: &str = "received";
/// ...of them, through the online channel.
pub const RECEIVED_ONLINE: &str = "received_online";
/// ...of them, of a fee-bearing procedure.
pub const RECEIVED_FEE_BEARING: &str = "received_fee_bearing";
/// ...of them, fee-bearing and paid online (at any time).
pub const RECEIVED_PAID_ONLINE: &str = "received_paid_online";
/// ...of them, reusing a digitised component (at any time).
pub const RECEIVED_REUSING: &str = "received_reusing";
/// Dossiers the pipeline starts to follow: at reception, or at the go-live snapshot.
pub const OPENED: &str = "opened";
/// Dossiers that ended (resolved, withdrawn or returned for want of supplements).
pub const CLOSED: &str = "closed";
/// Dossiers that passed their due time while open, on the day they did.
pub const OVERDUE: &str = "overdue";
/// ...of them, on the day they ended.
pub const OVERDUE_CLOSED: &str = "overdue_closed";
/// Dossiers resolved; the dimension `''` and each procedure code.
pub const RESOLVED: &str = "resolved";
/// Processing seconds of the dossiers resolved; `''` and each procedure code.
pub const PROCESSING_SECONDS: &str = "processing_seconds";
/// Dossiers resolved by their due time.
pub const RESOLVED_ON_TIME: &str = "resolved_on_time";
/// Dossiers resolved with a digitised (or reused) component and an electronic result.
pub const RESOLVED_DIGITISED_ELECTRONIC: &str = "resolved_digitised_electronic";
/// Dossiers resolved that went wholly online ("toàn trình").
pub const RESOLVED_FULL_ONLINE: &str = "resolved_full_online";
/// Dossiers resolved late, or dissatisfied, or complained about (5.4).
pub const RESOLVED_UNSATISFACTORY: &str = "resolved_unsatisfactory";
/// Dossiers rated dissatisfied or complained about, on the day they are opened.
pub const FLAGGED: &str = "flagged";
/// ...of them, on the day they ended.
pub const FLAGGED_CLOSED: &str = "flagged_closed";
/// Dossiers not flagged that passed their due time while open, on the day they did.
pub const OVERDUE_UNFLAGGED: &str = "overdue_unflagged";
/// ...of them, on the day they ended.
pub const OVERDUE_UNFLAGGED_CLOSED: &str = "overdue_unflagged_closed";
/// Dossiers returned because the supplements asked for never came.
pub const RETURNED_UNSUPPLEMENTED: &str = "returned_unsupplemented";
/// Dossiers whose first result was returned.
pub const RESULTS_RETURNED: &str = "results_returned";
/// ...of them, with an electronic result (at any return).
pub const RESULTS_RETURNED_ELECTRONIC: &str = "results_returned_electronic";

/// Documents sent.
pub const DOCUMENTS_SENT: &str = "documents_sent";
/// ...in electronic form.
pub const DOCUMENTS_SENT_ELECTRONIC: &str = "documents_sent_electronic";
/// ...digitally signed.
pub const DOCUMENTS_SENT_SIGNED: &str = "documents_sent_signed";
/// Documents received.
pub const DOCUMENTS_RECEIVED: &str = "documents_received";
/// ...in electronic form.
pub const DOCUMENTS_RECEIVED_ELECTRONIC: &str = "documents_received_electronic";
/// Work records closed, classified ones left out; dimension: the level.
pub const WORK_RECORDS_CLOSED: &str = "work_records_closed";
/// ...processed online.
pub const WORK_RECORDS_CLOSED_ONLINE: &str = "work_records_closed_online";

/// Learners certified, on their first certificate; dimension: the target group.
pub const CERTIFIED: &str = "certified";
/// Learners of adult age certified, whatever their group.
pub const CERTIFIED_ADULT: &str = "certified_adult";
/// ...and confirmed on VNeID, on the day both are true.
pub const CERTIFIED_ADULT_VNEID: &str = "certified_adult_vneid";
/// Households with a certified member, on the first member's certificate.
pub const HOUSEHOLDS_CERTIFIED: &str = "households_certified";
/// Classes held; `''` and each topic.
pub const CLASSES_HELD: &str = "classes_held";
/// Attendees of the classes; `''` and each topic.
pub const CLASS_ATTENDEES: &str = "class_attendees";
/// Communes' weeks with at least one class, on the week's Sunday.
pub const CLASS_WEEKS: &str = "class_weeks";

/// Every measure the rollups write.
pub const ALL: &[&str] = &[
    RECEIVED,
    RECEIVED_ONLINE,
    RECEIVED_FEE_BEARING,
    RECEIVED_PAID_ONLINE,
    RECEIVED_REUSING,
    OPENED,
    CLOSED,
    OVERDUE,
    OVERDUE_CLOSED,
    RESOLVED,
    PROCESSING_SECONDS,
    RESOLVED_ON_TIME,
    RESOLVED_DIGITISED_ELECTRONIC,
    RESOLVED_FULL_ONLINE,
    RESOLVED_UNSATISFACTORY,
    FLAGGED,
    FLAGGED_CLOSED,
    OVERDUE_UNFLAGGED,
    OVERDUE_UNFLAGGED_CLOSED,
    RETURNED_UNSUPPLEMENTED,
    RESULTS_RETURNED,
    RESULTS_RETURNED_ELECTRONIC,
    DOCUMENTS_SENT,
    DOCUMENTS_SENT_ELECTRONIC,
    DOCUMENTS_SENT_SIGNED,
    DOCUMENTS_RECEIVED,
    DOCUMENTS_RECEIVED_ELECTRONIC,
    WORK_RECORDS_CLOSED,
    WORK_RECORDS_CLOSED_ONLINE,
    CERTIFIED,
    CERTIFIED_ADULT,
    CERTIFIED_ADULT_VNEID,
    HOUSEHOLDS_CERTIFIED,
    CLASSES_HELD,
    CLASS_ATTENDEES,
    CLASS_WEEKS,
];

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn names_are_distinct_plain_identifiers() {
        let mut seen = std::collections::BTreeSet::new();
        for name in ALL {
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name}");
            assert!(seen.insert(name), "{name} listed twice");
        }
    }
}
