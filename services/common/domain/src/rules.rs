//! Rules of the dossier lifecycle that both the pipeline and the simulator's ground truth apply,
//! declared once. docs/indicators.md explains each one and its source.

/// Days a dossier waits for the supplements requested from the citizen before it is returned
/// unresolved ("trả lại hồ sơ"): a supplement request not answered within this time closes the
/// dossier at `request + SUPPLEMENT_WAIT_DAYS`, and it leaves the on-time figures as a withdrawal
/// does. The legal texts leave the waiting time to each procedure; 30 days is the project's
/// reading until the province sets its own.
pub const SUPPLEMENT_WAIT_DAYS: u32 = 30;

/// [`SUPPLEMENT_WAIT_DAYS`] in seconds.
pub const SUPPLEMENT_WAIT_SECONDS: u32 = SUPPLEMENT_WAIT_DAYS * 86_400;
