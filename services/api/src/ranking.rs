//! The order of a ranking: competition ranks ("1, 2, 2, 4"), best first.

/// Competition ranks ("1, 2, 2, 4") of `values`, best first; no value, no rank.
pub fn rank(values: &[Option<f64>], higher_is_better: bool) -> Vec<Option<u32>> {
    let better = |a: f64, b: f64| if higher_is_better { a > b } else { a < b };
    values
        .iter()
        .map(|value| {
            value.map(|v| {
                let ahead = values.iter().flatten().filter(|other| better(**other, v)).count();
                u32::try_from(ahead).unwrap_or(u32::MAX).saturating_add(1)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_a_rank_and_missing_values_have_none() {
        let values = [Some(0.5), Some(0.9), None, Some(0.5), Some(0.1)];
        assert_eq!(rank(&values, true), vec![Some(2), Some(1), None, Some(2), Some(4)]);
        assert_eq!(rank(&values, false), vec![Some(2), Some(4), None, Some(2), Some(1)]);
    }
}
