//! Indicator ids, names and kinds: one list read by the API, the simulator's ground truth and
//! the documentation. The formulas live in `docs/indicators.md`; how each is computed is up to
//! its reader (rollups + SQL in the pipeline, plain Rust in the simulator), so that the two can
//! check each other. Targets are reference data (`schemas/reference/targets.v1.csv`).

use crate::TargetGroup;

/// How an indicator's numbers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `numerator / denominator`, between 0 and 1.
    Ratio,
    /// A number of things: the numerator; no denominator.
    Count,
    /// An average duration: `numerator` seconds over `denominator` things.
    AverageSeconds,
}

impl Kind {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ratio => "ratio",
            Kind::Count => "count",
            Kind::AverageSeconds => "average_seconds",
        }
    }
}

/// The pillar of the national digital transformation programme an indicator belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pillar {
    /// Chính quyền số.
    Government,
    /// Kinh tế số.
    Economy,
    /// Xã hội số.
    Society,
}

impl Pillar {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Pillar::Government => "digital_government",
            Pillar::Economy => "digital_economy",
            Pillar::Society => "digital_society",
        }
    }
}

/// An indicator the pipeline computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Definition {
    /// Stable id used in URLs and JSON.
    pub id: &'static str,
    /// Number in Decision 766/QĐ-TTg, where the indicator has one.
    pub decision_766_code: Option<&'static str>,
    /// Vietnamese name.
    pub name_vi: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// How its numbers read.
    pub kind: Kind,
    /// Programme pillar.
    pub pillar: Pillar,
    /// Whether a higher value is better (rankings sort on it).
    pub higher_is_better: bool,
    /// What the breakdown splits the value by (`procedure`, `topic`), if the value has one.
    pub breakdown: Option<&'static str>,
    /// What the numerator counts (docs/indicators.md has the full reading).
    pub numerator: &'static str,
    /// What the denominator counts; `None` for counts.
    pub denominator: Option<&'static str>,
}
/// On-time rate.
pub const ON_TIME_RATE: &str = "on_time_rate";
/// Average resolution time.
pub const AVERAGE_RESOLUTION_TIME: &str = "average_resolution_time";
/// Online submission rate.
pub const ONLINE_SUBMISSION_RATE: &str = "online_submission_rate";
/// Online payment rate.
pub const ONLINE_PAYMENT_RATE: &str = "online_payment_rate";
/// Electronic result rate.
pub const ELECTRONIC_RESULT_RATE: &str = "electronic_result_rate";
/// Dossier digitisation rate.
pub const DIGITISATION_RATE: &str = "digitisation_rate";
/// Data reuse rate.
pub const DATA_REUSE_RATE: &str = "data_reuse_rate";
/// Satisfaction.
pub const SATISFACTION_INDEX: &str = "satisfaction_index";
/// Dossiers received.
pub const DOSSIERS_RECEIVED: &str = "dossiers_received";
/// Dossiers resolved.
pub const DOSSIERS_RESOLVED: &str = "dossiers_resolved";
/// Dossiers in progress.
pub const DOSSIERS_IN_PROGRESS: &str = "dossiers_in_progress";
/// Dossiers late.
pub const DOSSIERS_LATE: &str = "dossiers_late";
/// Dossiers received and resolved wholly online ("toàn trình").
pub const FULLY_ONLINE_RATE: &str = "fully_online_rate";
/// Dossiers returned because the supplements asked for never came.
pub const DOSSIERS_RETURNED_UNSUPPLEMENTED: &str = "dossiers_returned_unsupplemented";
/// Documents sent electronically.
pub const DOCUMENTS_SENT_ELECTRONIC: &str = "documents_sent_electronic_rate";
/// Documents received electronically.
pub const DOCUMENTS_RECEIVED_ELECTRONIC: &str = "documents_received_electronic_rate";
/// Documents sent with a digital signature.
pub const DOCUMENTS_SENT_SIGNED: &str = "documents_sent_signed_rate";
/// Work records processed online, province level.
pub const WORK_RECORDS_ONLINE_PROVINCE: &str = "work_records_online_rate_province";
/// Work records processed online, commune level.
pub const WORK_RECORDS_ONLINE_COMMUNE: &str = "work_records_online_rate_commune";
/// Digital-skills coverage, civil servants.
pub const SKILLS_COVERAGE_CIVIL_SERVANT: &str = "skills_coverage_civil_servant";
/// Digital-skills coverage, students.
pub const SKILLS_COVERAGE_STUDENT: &str = "skills_coverage_student";
/// Digital-skills coverage, primary pupils.
pub const SKILLS_COVERAGE_PUPIL: &str = "skills_coverage_pupil";
/// Digital-skills coverage, adults.
pub const SKILLS_COVERAGE_ADULT: &str = "skills_coverage_adult";
/// Digital-skills coverage, enterprise workers.
pub const SKILLS_COVERAGE_WORKER: &str = "skills_coverage_worker";
/// Adults certified and confirmed on VNeID.
pub const ADULT_VNEID_COVERAGE: &str = "adult_vneid_coverage";
/// Household coverage (Gia đình số).
pub const HOUSEHOLD_COVERAGE: &str = "household_coverage";
/// Bình dân học vụ số classes held.
pub const CLASSES_HELD: &str = "classes_held";
/// Class attendees.
pub const CLASS_ATTENDEES: &str = "class_attendees";
/// Share of the communes' weeks with at least one class.
pub const WEEKLY_CLASS_COVERAGE: &str = "weekly_class_coverage";

/// Id of the coverage indicator of a target group, e.g. `skills_coverage_adult`.
pub fn coverage_id(group: TargetGroup) -> &'static str {
    match group {
        TargetGroup::CivilServant => SKILLS_COVERAGE_CIVIL_SERVANT,
        TargetGroup::Student => SKILLS_COVERAGE_STUDENT,
        TargetGroup::Pupil => SKILLS_COVERAGE_PUPIL,
        TargetGroup::Adult => SKILLS_COVERAGE_ADULT,
        TargetGroup::Worker => SKILLS_COVERAGE_WORKER,
    }
}

/// Every indicator of `GET /v1/kpis`, in the order it answers them.
pub const DEFINITIONS: &[Definition] = &[
    Definition {
        id: ON_TIME_RATE,
        decision_766_code: Some("2.1"),
        name_vi: "Tỷ lệ hồ sơ xử lý trước hạn, đúng hạn",
        name_en: "On-time rate",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers resolved in the period by their due time (clock paused during supplements), plus dossiers still open at the end of the period and not yet past it",
        denominator: Some("dossiers resolved in the period plus dossiers still open at its end"),
    },
    Definition {
        id: AVERAGE_RESOLUTION_TIME,
        decision_766_code: Some("2.2"),
        name_vi: "Thời gian giải quyết trung bình",
        name_en: "Average resolution time",
        kind: Kind::AverageSeconds,
        pillar: Pillar::Government,
        higher_is_better: false,
        breakdown: Some("procedure"),
        numerator: "seconds from reception to resolution of the dossiers resolved in the period, supplement pauses left out",
        denominator: Some("dossiers resolved in the period"),
    },
    Definition {
        id: ONLINE_SUBMISSION_RATE,
        decision_766_code: Some("3.3"),
        name_vi: "Tỷ lệ hồ sơ trực tuyến",
        name_en: "Online submission rate",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers received in the period through the online channel",
        denominator: Some("dossiers received in the period"),
    },
    Definition {
        id: ONLINE_PAYMENT_RATE,
        decision_766_code: Some("3.6"),
        name_vi: "Tỷ lệ hồ sơ thanh toán trực tuyến",
        name_en: "Online payment rate",
        kind: Kind::Ratio,
        pillar: Pillar::Economy,
        higher_is_better: true,
        breakdown: None,
        numerator: "fee-bearing dossiers received in the period that were paid online",
        denominator: Some("fee-bearing dossiers received in the period"),
    },
    Definition {
        id: ELECTRONIC_RESULT_RATE,
        decision_766_code: Some("4.1"),
        name_vi: "Tỷ lệ cấp kết quả điện tử",
        name_en: "Electronic result rate",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers whose result was returned electronically in the period",
        denominator: Some("dossiers whose result was returned in the period"),
    },
    Definition {
        id: DIGITISATION_RATE,
        decision_766_code: Some("4.2"),
        name_vi: "Tỷ lệ số hóa hồ sơ",
        name_en: "Dossier digitisation rate",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers resolved in the period with a digitised or reused component and an electronic result (at any time)",
        denominator: Some("dossiers resolved in the period"),
    },
    Definition {
        id: DATA_REUSE_RATE,
        decision_766_code: Some("4.3"),
        name_vi: "Tỷ lệ khai thác, sử dụng lại dữ liệu số hóa",
        name_en: "Data reuse rate",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers received in the period that reuse at least one digitised component",
        denominator: Some("dossiers received in the period"),
    },
    Definition {
        id: SATISFACTION_INDEX,
        decision_766_code: Some("5.4"),
        name_vi: "Mức độ hài lòng",
        name_en: "Satisfaction",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers of the denominator that were neither late, nor rated dissatisfied, nor the subject of feedback or a petition about their reception or handling (each dossier once)",
        denominator: Some("the on-time denominator: dossiers resolved in the period plus dossiers still open at its end"),
    },
    Definition {
        id: DOSSIERS_RECEIVED,
        decision_766_code: None,
        name_vi: "Số hồ sơ tiếp nhận",
        name_en: "Dossiers received",
        kind: Kind::Count,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers received in the period",
        denominator: None,
    },
    Definition {
        id: DOSSIERS_RESOLVED,
        decision_766_code: None,
        name_vi: "Số hồ sơ đã giải quyết",
        name_en: "Dossiers resolved",
        kind: Kind::Count,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers resolved in the period",
        denominator: None,
    },
    Definition {
        id: DOSSIERS_IN_PROGRESS,
        decision_766_code: None,
        name_vi: "Số hồ sơ đang giải quyết",
        name_en: "Dossiers in progress",
        kind: Kind::Count,
        pillar: Pillar::Government,
        higher_is_better: false,
        breakdown: None,
        numerator: "dossiers received (or taken over at go-live) before the end of the period and not ended by then: neither resolved, withdrawn nor returned for want of supplements",
        denominator: None,
    },
    Definition {
        id: DOSSIERS_LATE,
        decision_766_code: None,
        name_vi: "Số hồ sơ quá hạn",
        name_en: "Dossiers late",
        kind: Kind::Count,
        pillar: Pillar::Government,
        higher_is_better: false,
        breakdown: None,
        numerator: "dossiers resolved in the period after their due time, plus dossiers still open and past it at the end of the period",
        denominator: None,
    },
    Definition {
        id: FULLY_ONLINE_RATE,
        decision_766_code: None,
        name_vi: "Tỷ lệ hồ sơ trực tuyến toàn trình",
        name_en: "Dossiers handled wholly online",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "dossiers resolved in the period that were submitted online under a full-online (toàn trình) service level and, if fee-bearing, paid online",
        denominator: Some("dossiers resolved in the period"),
    },
    Definition {
        id: DOSSIERS_RETURNED_UNSUPPLEMENTED,
        decision_766_code: None,
        name_vi: "Số hồ sơ trả lại do không bổ sung",
        name_en: "Dossiers returned for want of supplements",
        kind: Kind::Count,
        pillar: Pillar::Government,
        higher_is_better: false,
        breakdown: None,
        numerator: "dossiers whose supplement request went unanswered for the waiting time, returned in the period",
        denominator: None,
    },
    Definition {
        id: DOCUMENTS_SENT_ELECTRONIC,
        decision_766_code: None,
        name_vi: "Tỷ lệ văn bản đi dưới dạng điện tử",
        name_en: "Documents sent electronically",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "documents sent electronically in the period",
        denominator: Some("documents sent in the period"),
    },
    Definition {
        id: DOCUMENTS_RECEIVED_ELECTRONIC,
        decision_766_code: None,
        name_vi: "Tỷ lệ văn bản đến dưới dạng điện tử",
        name_en: "Documents received electronically",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "documents received electronically in the period",
        denominator: Some("documents received in the period"),
    },
    Definition {
        id: DOCUMENTS_SENT_SIGNED,
        decision_766_code: None,
        name_vi: "Tỷ lệ văn bản đi có ký số",
        name_en: "Documents sent with a digital signature",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "documents sent with a digital signature in the period",
        denominator: Some("documents sent in the period"),
    },
    Definition {
        id: WORK_RECORDS_ONLINE_PROVINCE,
        decision_766_code: None,
        name_vi: "Tỷ lệ hồ sơ công việc cấp tỉnh xử lý trên môi trường mạng",
        name_en: "Work records processed online, province level",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "province-level work records closed in the period, processed online, classified excluded",
        denominator: Some("province-level work records closed in the period, classified excluded"),
    },
    Definition {
        id: WORK_RECORDS_ONLINE_COMMUNE,
        decision_766_code: None,
        name_vi: "Tỷ lệ hồ sơ công việc cấp xã xử lý trên môi trường mạng",
        name_en: "Work records processed online, commune level",
        kind: Kind::Ratio,
        pillar: Pillar::Government,
        higher_is_better: true,
        breakdown: None,
        numerator: "commune-level work records closed in the period, processed online, classified excluded",
        denominator: Some("commune-level work records closed in the period, classified excluded"),
    },
    Definition {
        id: SKILLS_COVERAGE_CIVIL_SERVANT,
        decision_766_code: None,
        name_vi: "Tỷ lệ cán bộ, công chức, viên chức có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, civil servants",
        kind: Kind::Ratio,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: None,
        numerator: "civil servants certified by the end of the period",
        denominator: Some("civil-servant positions (reference data)"),
    },
    Definition {
        id: SKILLS_COVERAGE_STUDENT,
        decision_766_code: None,
        name_vi: "Tỷ lệ học sinh, sinh viên có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, students",
        kind: Kind::Ratio,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: None,
        numerator: "secondary and university students certified by the end of the period",
        denominator: Some("secondary and university students (reference data, synthetic)"),
    },
    Definition {
        id: SKILLS_COVERAGE_PUPIL,
        decision_766_code: None,
        name_vi: "Tỷ lệ học sinh tiểu học có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, primary pupils",
        kind: Kind::Ratio,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: None,
        numerator: "primary pupils certified by the end of the period",
        denominator: Some("primary pupils (reference data, synthetic)"),
    },
    Definition {
        id: SKILLS_COVERAGE_ADULT,
        decision_766_code: None,
        name_vi: "Tỷ lệ người trưởng thành có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, adults",
        kind: Kind::Ratio,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: None,
        numerator: "people of adult age certified by the end of the period, whatever their group (a certified civil servant is a certified adult)",
        denominator: Some("people of adult age (reference data, synthetic)"),
    },
    Definition {
        id: SKILLS_COVERAGE_WORKER,
        decision_766_code: None,
        name_vi: "Tỷ lệ người lao động trong doanh nghiệp, hợp tác xã có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, enterprise workers",
        kind: Kind::Ratio,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: None,
        numerator: "enterprise and cooperative workers certified by the end of the period",
        denominator: Some("enterprise and cooperative workers (reference data, synthetic)"),
    },
    Definition {
        id: ADULT_VNEID_COVERAGE,
        decision_766_code: None,
        name_vi: "Tỷ lệ người trưởng thành có kỹ năng số được xác nhận trên VNeID",
        name_en: "Adults certified and confirmed on VNeID",
        kind: Kind::Ratio,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: None,
        numerator: "people of adult age certified and confirmed on VNeID by the end of the period (the confirmation may follow the certificate)",
        denominator: Some("people of adult age (reference data, synthetic)"),
    },
    Definition {
        id: HOUSEHOLD_COVERAGE,
        decision_766_code: None,
        name_vi: "Tỷ lệ hộ gia đình có thành viên có kỹ năng số (Gia đình số)",
        name_en: "Household coverage (Gia đình số)",
        kind: Kind::Ratio,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: None,
        numerator: "households with at least one member certified by the end of the period",
        denominator: Some("households (reference data, synthetic)"),
    },
    Definition {
        id: CLASSES_HELD,
        decision_766_code: None,
        name_vi: "Số lớp Bình dân học vụ số đã tổ chức",
        name_en: "Bình dân học vụ số classes held",
        kind: Kind::Count,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: Some("topic"),
        numerator: "classes held in the period (by topic in the breakdown)",
        denominator: None,
    },
    Definition {
        id: CLASS_ATTENDEES,
        decision_766_code: None,
        name_vi: "Số lượt người tham dự lớp học",
        name_en: "Class attendees",
        kind: Kind::Count,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: Some("topic"),
        numerator: "people attending the classes held in the period (by topic in the breakdown)",
        denominator: None,
    },
    Definition {
        id: WEEKLY_CLASS_COVERAGE,
        decision_766_code: None,
        name_vi: "Tỷ lệ xã, phường tổ chức lớp Bình dân học vụ số hằng tuần",
        name_en: "Communes holding a class every week",
        kind: Kind::Ratio,
        pillar: Pillar::Society,
        higher_is_better: true,
        breakdown: None,
        numerator: "weeks (Monday to Sunday, ending in the period) in which a commune or ward held at least one class, over the communes and wards",
        denominator: Some("communes and wards times the weeks ending in the period"),
    },
];

/// The definition of `id`, if it exists.
pub fn definition(id: &str) -> Option<&'static Definition> {
    DEFINITIONS.iter().find(|definition| definition.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_coverage_id_is_defined_and_ids_are_unique() {
        for group in TargetGroup::ALL {
            assert!(definition(coverage_id(group)).is_some());
        }
        let mut ids: Vec<_> = DEFINITIONS.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), DEFINITIONS.len());
    }

    #[test]
    fn counts_have_no_denominator_and_the_others_have_one() {
        for definition in DEFINITIONS {
            assert_eq!(definition.kind == Kind::Count, definition.denominator.is_none(), "{}", definition.id);
        }
    }

    #[test]
    fn every_target_in_the_reference_data_names_an_indicator() {
        let targets = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/reference/targets.v2.csv"),
        )
        .expect("targets file");
        for line in targets.lines().skip(1) {
            let id = line.split(',').next().unwrap_or_default();
            assert!(definition(id).is_some_and(|d| d.kind == Kind::Ratio), "target for unknown indicator {id}");
        }
    }
}
