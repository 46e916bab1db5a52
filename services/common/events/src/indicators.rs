//! Indicator ids, names and targets: one list read by the API, the simulator's ground truth and
//! the documentation. The formulas live in `docs/indicators.md`; how each is computed is up to
//! its reader (SQL in the API, plain Rust in the simulator), so that the two can check each other.

use crate::TargetGroup;

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
    /// The ratio to reach, where one is set (2026 targets, or full marks under Decision 766).
    pub target: Option<f64>,
    /// What the numerator counts (docs/indicators.md has the full reading).
    pub numerator: &'static str,
    /// What the denominator counts.
    pub denominator: &'static str,
}

/// 3.3: dossiers received online / all dossiers received.
pub const ONLINE_SUBMISSION_RATE: &str = "online_submission_rate";
/// 4.2: dossiers resolved in the period that were digitised and got an electronic result / dossiers resolved.
pub const DIGITISATION_RATE: &str = "digitisation_rate";
/// 4.1: dossiers whose result was returned electronically / dossiers whose result was returned.
pub const ELECTRONIC_RESULT_RATE: &str = "electronic_result_rate";
/// 3.6: fee-bearing dossiers received in the period that were paid online / fee-bearing dossiers received.
pub const ONLINE_PAYMENT_RATE: &str = "online_payment_rate";
/// Documents sent electronically / documents sent.
pub const DOCUMENTS_SENT_ELECTRONIC: &str = "documents_sent_electronic_rate";
/// Documents received electronically / documents received.
pub const DOCUMENTS_RECEIVED_ELECTRONIC: &str = "documents_received_electronic_rate";
/// Documents sent with a digital signature / documents sent.
pub const DOCUMENTS_SENT_SIGNED: &str = "documents_sent_signed_rate";
/// Work records closed online / closed, province level, classified excluded.
pub const WORK_RECORDS_ONLINE_PROVINCE: &str = "work_records_online_rate_province";
/// Work records closed online / closed, commune level, classified excluded.
pub const WORK_RECORDS_ONLINE_COMMUNE: &str = "work_records_online_rate_commune";

/// Id of the coverage indicator of a target group, e.g. `skills_coverage_adult`.
pub fn coverage_id(group: TargetGroup) -> &'static str {
    match group {
        TargetGroup::CivilServant => "skills_coverage_civil_servant",
        TargetGroup::Student => "skills_coverage_student",
        TargetGroup::Adult => "skills_coverage_adult",
        TargetGroup::Worker => "skills_coverage_worker",
    }
}

/// Every indicator of `GET /v1/kpis`, in the order it answers them.
pub const DEFINITIONS: &[Definition] = &[
    Definition {
        id: ONLINE_SUBMISSION_RATE,
        decision_766_code: Some("3.3"),
        name_vi: "Tỷ lệ hồ sơ trực tuyến",
        name_en: "Online submission rate",
        target: Some(0.5),
        numerator: "dossiers received in the period through the online channel",
        denominator: "dossiers received in the period",
    },
    Definition {
        id: DIGITISATION_RATE,
        decision_766_code: Some("4.2"),
        name_vi: "Tỷ lệ số hóa hồ sơ",
        name_en: "Dossier digitisation rate",
        target: Some(0.8),
        numerator: "dossiers resolved in the period that have digitised components and an electronic result",
        denominator: "dossiers resolved in the period",
    },
    Definition {
        id: ONLINE_PAYMENT_RATE,
        decision_766_code: Some("3.6"),
        name_vi: "Tỷ lệ hồ sơ thanh toán trực tuyến",
        name_en: "Online payment rate",
        target: None,
        numerator: "fee-bearing dossiers received in the period that were paid online",
        denominator: "fee-bearing dossiers received in the period",
    },
    Definition {
        id: ELECTRONIC_RESULT_RATE,
        decision_766_code: Some("4.1"),
        name_vi: "Tỷ lệ cấp kết quả điện tử",
        name_en: "Electronic result rate",
        target: None,
        numerator: "dossiers whose result was returned electronically in the period",
        denominator: "dossiers whose result was returned in the period",
    },
    Definition {
        id: DOCUMENTS_SENT_ELECTRONIC,
        decision_766_code: None,
        name_vi: "Tỷ lệ văn bản đi dưới dạng điện tử",
        name_en: "Documents sent electronically",
        target: None,
        numerator: "documents sent electronically in the period",
        denominator: "documents sent in the period",
    },
    Definition {
        id: DOCUMENTS_RECEIVED_ELECTRONIC,
        decision_766_code: None,
        name_vi: "Tỷ lệ văn bản đến dưới dạng điện tử",
        name_en: "Documents received electronically",
        target: None,
        numerator: "documents received electronically in the period",
        denominator: "documents received in the period",
    },
    Definition {
        id: DOCUMENTS_SENT_SIGNED,
        decision_766_code: None,
        name_vi: "Tỷ lệ văn bản đi có ký số",
        name_en: "Documents sent with a digital signature",
        target: None,
        numerator: "documents sent with a digital signature in the period",
        denominator: "documents sent in the period",
    },
    Definition {
        id: WORK_RECORDS_ONLINE_PROVINCE,
        decision_766_code: None,
        name_vi: "Tỷ lệ hồ sơ công việc cấp tỉnh xử lý trên môi trường mạng",
        name_en: "Work records processed online, province level",
        target: None,
        numerator: "province-level work records closed in the period, processed online, classified excluded",
        denominator: "province-level work records closed in the period, classified excluded",
    },
    Definition {
        id: WORK_RECORDS_ONLINE_COMMUNE,
        decision_766_code: None,
        name_vi: "Tỷ lệ hồ sơ công việc cấp xã xử lý trên môi trường mạng",
        name_en: "Work records processed online, commune level",
        target: None,
        numerator: "commune-level work records closed in the period, processed online, classified excluded",
        denominator: "commune-level work records closed in the period, classified excluded",
    },
    Definition {
        id: "skills_coverage_civil_servant",
        decision_766_code: None,
        name_vi: "Tỷ lệ cán bộ, công chức, viên chức có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, civil servants",
        target: Some(1.0),
        numerator: "civil servants certified by the end of the period",
        denominator: "civil-servant positions (reference data)",
    },
    Definition {
        id: "skills_coverage_student",
        decision_766_code: None,
        name_vi: "Tỷ lệ học sinh, sinh viên có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, students",
        target: Some(1.0),
        numerator: "students certified by the end of the period",
        denominator: "students (reference data, synthetic)",
    },
    Definition {
        id: "skills_coverage_adult",
        decision_766_code: None,
        name_vi: "Tỷ lệ người trưởng thành có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, adults",
        target: Some(1.0),
        numerator: "adults certified by the end of the period",
        denominator: "adults (reference data, synthetic)",
    },
    Definition {
        id: "skills_coverage_worker",
        decision_766_code: None,
        name_vi: "Tỷ lệ người lao động trong doanh nghiệp, hợp tác xã có kỹ năng số cơ bản",
        name_en: "Digital-skills coverage, enterprise workers",
        target: Some(1.0),
        numerator: "enterprise and cooperative workers certified by the end of the period",
        denominator: "enterprise and cooperative workers (reference data, synthetic)",
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
}
