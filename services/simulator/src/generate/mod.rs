//! Generates the province's source-system activity, day by day, deterministically from a seed.
//!
//! Rates and volumes follow the province's published figures (86.6% online dossiers, 86.97%
//! electronic results, 83.89% digitisation, 95%/75% of work records online at province/commune
//! level; docs/domain.md); each unit gets its own rate around the provincial one so that rankings
//! have something to show.

mod edoc;
mod portal;
mod training;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone};
use ioc_domain::{Event, EventBody, Source};
use ioc_reference::{ReferenceData, Unit, UnitKind};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// First simulated day (local date).
    pub start: NaiveDate,
    /// Number of simulated days.
    pub days: u32,
    /// Share of the province's real volume to generate (1.0 = about 1.4 million dossiers a year).
    pub scale: f64,
}

impl Scenario {
    /// The instant the simulation ends: events after it have not happened yet.
    pub fn end(&self) -> DateTime<FixedOffset> {
        local_time(self.start + Duration::days(i64::from(self.days)), 0, 0)
    }

    /// When the sources join the stream: five minutes into the first day. Dossiers received
    /// before it and still open are sent as the go-live backlog.
    pub fn go_live(&self) -> DateTime<FixedOffset> {
        local_time(self.start, 0, 5)
    }
}

/// Local (UTC+7) time of day on `day`.
pub fn local_time(day: NaiveDate, hour: u32, minute: u32) -> DateTime<FixedOffset> {
    let naive = day.and_hms_opt(hour.min(23), minute.min(59), 0).unwrap_or_default();
    ioc_domain::local_offset()
        .from_local_datetime(&naive)
        .single()
        .unwrap_or_else(|| ioc_domain::local_offset().from_utc_datetime(&naive))
}

/// Builds events with ids drawn from the scenario's random stream.
pub struct EventFactory<'a> {
    rng: &'a mut ChaCha8Rng,
    end: DateTime<FixedOffset>,
    events: Vec<Event>,
    next_serial: u64,
    /// Clear personal identifiers: the simulator is a source, so it sends them, and ingest
    /// must pseudonymise them. Kept per event so tests can look for them downstream.
    pub clear_identifiers: Vec<String>,
    /// Each unit's last registered learner's household, for a learner of another unit to join
    /// (training.rs).
    last_households: std::collections::BTreeMap<String, String>,
}

/// Entity serials available to a scenario per day between its start and the next one's.
const SERIALS_PER_DAY: u64 = 1_000_000;

/// The `nth` of several ids to derive events from, all from `from` ([`EventFactory::emit_derived`]):
/// each `nth` gives another id, and 0 gives `from` itself.
pub fn nth(from: uuid::Uuid, nth: u8) -> uuid::Uuid {
    let mut bytes = *from.as_bytes();
    bytes[15] ^= nth;
    uuid::Uuid::from_bytes(bytes)
}

/// Where a scenario's entity serials (and document numbers) start: a million per day since
/// 2000-01-01, so scenarios generated separately (ioc_bench loads a year a month at a time; the
/// freshness benchmark adds live days on top of it) never reuse an id as long as the earlier one
/// makes fewer than a million entities per day between their starts (a province day makes about
/// ten thousand). Reused ids would merge unrelated dossiers and documents across months.
pub fn serial_base(start: NaiveDate) -> u64 {
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    u64::try_from((start - epoch).num_days()).unwrap_or(0) * SERIALS_PER_DAY
}

impl<'a> EventFactory<'a> {
    fn new(rng: &'a mut ChaCha8Rng, end: DateTime<FixedOffset>, serial_base: u64) -> Self {
        EventFactory {
            rng,
            end,
            events: Vec::new(),
            next_serial: serial_base,
            clear_identifiers: Vec::new(),
            last_households: std::collections::BTreeMap::new(),
        }
    }

    /// The random stream.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        self.rng
    }

    /// A fresh entity id with a readable prefix, e.g. `H37-07900-0000000042`; unique within a run.
    pub fn entity_id(&mut self, prefix: &str, unit: &Unit) -> String {
        self.next_serial += 1;
        format!("{prefix}-{}-{:010}", unit.code, self.next_serial)
    }

    /// Records an event if it happened before the end of the simulation; returns whether it did.
    pub fn emit(&mut self, source: Source, unit: &Unit, at: DateTime<FixedOffset>, body: EventBody) -> bool {
        if at >= self.end {
            return false;
        }
        let event_id = uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid();
        self.record(event_id, source, unit, at, body)
    }

    /// `emit`, with an event id derived from `from` (another event's) instead of drawn, so that
    /// the events drawn after it stay as they were. Several events derived from one id take
    /// `nth(from, 1)`, `nth(from, 2)`... as theirs.
    pub fn emit_derived(
        &mut self,
        source: Source,
        unit: &Unit,
        at: DateTime<FixedOffset>,
        body: EventBody,
        from: uuid::Uuid,
    ) -> bool {
        let mut bytes = *from.as_bytes();
        bytes.iter_mut().for_each(|byte| *byte = !*byte);
        let event_id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        self.record(event_id, source, unit, at, body)
    }

    fn record(
        &mut self,
        event_id: uuid::Uuid,
        source: Source,
        unit: &Unit,
        at: DateTime<FixedOffset>,
        body: EventBody,
    ) -> bool {
        if at >= self.end {
            return false;
        }
        let unit_code = unit.code.clone();
        self.events.push(Event { event_id, source, occurred_at: at, unit_code, received_at: None, body });
        true
    }
}

/// A ward formed after the reference data was last updated (the province's administrative
/// changes outrun it): its portal desk, its e-office and its digital-skills classes report under
/// a code the reference data does not list yet. Its events count in the province's totals and
/// in no unit's (services/processor/src/unknown_units.rs), and the processor counts them per
/// source.
pub const UNLISTED_UNIT_CODE: &str = "99990";
/// Its share of the province's dossiers (a small ward's).
const UNLISTED_UNIT_WEIGHT: f64 = 0.002;
/// The least scale it works at: at a test's scale (0.01 to 0.05) a small ward draws no
/// dossier, document or work record on most days, and the rule for units the reference data
/// does not list must see every source's table in every test. At 0.25, about 2 dossiers a day
/// and 7 e-office events a working day.
const UNLISTED_UNIT_MIN_SCALE: f64 = 0.25;
/// Its classes per working day: one, so that even a week's scenario has some (a commune's 0.4
/// can draw none in a week). Its population is not in the reference data, so it has no
/// learners, and its weeks are not counted (weekly classes are the listed communes').
const UNLISTED_UNIT_CLASSES_PER_WORKING_DAY: f64 = 1.0;

/// Everything the sources did during the scenario, in order of event time.
pub fn generate(scenario: &Scenario, reference: &ReferenceData, rng: &mut ChaCha8Rng) -> (Vec<Event>, Vec<String>) {
    let end = scenario.end();
    let base = serial_base(scenario.start);
    let mut factory = EventFactory::new(rng, end, base);
    let weights = unit_weights(reference);
    let profiles: Vec<UnitProfile> = reference.units.iter().map(|_| UnitProfile::draw(factory.rng())).collect();
    let mut documents = edoc::Numbering::starting_at(base);
    let departments = reference.units.iter().filter(|u| u.kind == UnitKind::Department).collect();
    let desks = portal::Desks { procedures: &reference.procedures, departments };
    let unlisted = Unit {
        code: UNLISTED_UNIT_CODE.to_owned(),
        name: "not yet in the reference data".to_owned(),
        kind: UnitKind::Phuong,
        former_province: String::new(),
    };
    let average = UnitProfile { skew: 0.0 };
    let unlisted_office = Scenario { scale: scenario.scale.max(UNLISTED_UNIT_MIN_SCALE), ..scenario.clone() };
    // What its desk adds to the dossiers drawn with the listed units' to reach that scale.
    let unlisted_desk_extra =
        Scenario { scale: (UNLISTED_UNIT_MIN_SCALE - scenario.scale).max(0.0), ..scenario.clone() };
    // The portal's days before the start only make the backlog at go-live.
    for offset in -i64::from(portal::BACKLOG_DAYS)..i64::from(scenario.days) {
        let day = scenario.start + Duration::days(offset);
        for ((unit, weight), profile) in reference.units.iter().zip(&weights).zip(&profiles) {
            portal::day(&mut factory, scenario, day, unit, *weight, profile, &desks);
            if offset >= 0 {
                edoc::day(&mut factory, scenario, day, unit, profile, &mut documents);
                training::day(&mut factory, scenario, day, unit, reference, profile);
            }
        }
        portal::day(&mut factory, scenario, day, &unlisted, UNLISTED_UNIT_WEIGHT, &average, &desks);
    }
    // The rest of the unlisted ward after every other event is drawn, so that its draws and
    // serials leave the others' as they were (the rare cases the rules handle are chosen by
    // serial): the dossiers its desk lacks below the least scale, its e-office and its classes.
    for offset in -i64::from(portal::BACKLOG_DAYS)..i64::from(scenario.days) {
        let day = scenario.start + Duration::days(offset);
        if unlisted_desk_extra.scale > 0.0 {
            portal::day(&mut factory, &unlisted_desk_extra, day, &unlisted, UNLISTED_UNIT_WEIGHT, &average, &desks);
        }
        if offset >= 0 {
            edoc::day(&mut factory, &unlisted_office, day, &unlisted, &average, &mut documents);
            training::classes(&mut factory, day, &unlisted, UNLISTED_UNIT_CLASSES_PER_WORKING_DAY);
        }
    }
    let EventFactory { mut events, clear_identifiers, .. } = factory;
    events.sort_by_key(|event| event.occurred_at);
    (events, clear_identifiers)
}

/// How far a unit is from the provincial average; drawn once per unit.
#[derive(Debug, Clone, Copy)]
pub struct UnitProfile {
    /// Added to each provincial rate (about ±8 points).
    pub skew: f64,
}

impl UnitProfile {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        UnitProfile { skew: rng.gen_range(-0.08..0.08) }
    }

    /// The unit's version of a provincial rate, kept within [0.02, 0.995].
    pub fn rate(&self, provincial: f64) -> f64 {
        (provincial + self.skew).clamp(0.02, 0.995)
    }
}

/// Each unit's share of the province's dossiers: communes by population, departments together
/// about 30% (they handle the province-level procedures).
fn unit_weights(reference: &ReferenceData) -> Vec<f64> {
    let population = |unit: &Unit| reference.denominator(&unit.code, "population").unwrap_or(0) as f64;
    let total: f64 = reference.units.iter().map(population).sum();
    let departments = reference.units.iter().filter(|u| u.kind == UnitKind::Department).count().max(1) as f64;
    reference
        .units
        .iter()
        .map(|unit| match unit.kind {
            UnitKind::Department => 0.30 / departments,
            _ if total > 0.0 => 0.70 * population(unit) / total,
            _ => 0.0,
        })
        .collect()
}

/// Draws how many things happen when `expected` happen on average (never negative).
pub fn draw_count(rng: &mut ChaCha8Rng, expected: f64) -> u32 {
    let whole = expected.floor();
    let extra = u32::from(rng.gen_bool((expected - whole).clamp(0.0, 1.0)));
    whole as u32 + extra
}

/// A random instant within office hours of `day`.
pub fn office_time(rng: &mut ChaCha8Rng, day: NaiveDate) -> DateTime<FixedOffset> {
    let minute_of_day = rng.gen_range(7 * 60 + 30..17 * 60);
    local_time(day, minute_of_day / 60, minute_of_day % 60)
}
