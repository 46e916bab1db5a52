//! Cluster mode: the same migrations on ClickHouse shards and replicas.
//!
//! The migrations under schemas/clickhouse are written for one server. With a cluster
//! configured, each statement is rewritten before it runs: every table gets a `Replicated`
//! engine and `ON CLUSTER`, and the tables that grow with the events are split over the shards
//! behind a `Distributed` table of the original name, so every query (rollup, API, analysts)
//! keeps its table names. Where each table lives is declared once, in [`placement`]; a
//! migration that creates an undeclared table fails in cluster mode, naming it.
//!
//! Why this placement (docs/architecture.md, "Past one machine"): raw events and dossier facts
//! are the bulk of the data and are sharded; the measures the dashboard reads are small and are
//! replicated on every node, so a dashboard query is answered by the node it reaches, without
//! asking the other shards.

/// Where a table's rows live in cluster mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Split over the shards by `key` (each shard replicated): `<table>_local` on every node,
    /// and `<table>` a `Distributed` table over them.
    Sharded {
        /// The sharding expression.
        key: &'static str,
    },
    /// A full copy on every node (one replication group for the whole cluster).
    Everywhere,
}

/// The setting (name, value) under which migrations run on a cluster: an `ALTER` of a replicated
/// table returns only once every replica has applied it (2 = wait for every replica), so the next
/// statement, or a service starting on another node, sees the new columns. Current releases know
/// it as an alias of `alter_sync`; 18.16 knows only this name.
pub const REPLICATED_ALTER_WAIT: (&str, &str) = ("replication_alter_partitions_sync", "2");

/// The placement of each table the migrations create.
///
/// - Raw events are sharded so that every event of an entity lands on one shard: dossier events
///   by dossier, e-documents and training by unit (a document is known by its unit, number and year;
///   learners, households and classes belong to a unit). The rollup reads them through their
///   Distributed tables, so its results do not depend on this choice; the choice keeps each
///   entity's redeliveries together, which `LIMIT 1 BY event_id` and `FINAL` rely on.
/// - `dossier_facts` is sharded by dossier: all versions of a dossier's facts on one shard,
///   where `FINAL` keeps the newest. So is its copy by bound month, `dossier_facts_by_bound`,
///   which a materialized view of each shard writes from that shard's inserts.
/// - `training_milestones`, the counted training events again (migration 0017), lives beside
///   the raw rows it copies, written the same way.
/// - `<source>_event_lines` (the offset and line each stored event came from; before migration
///   0015 `<source>_offsets`, the offset alone) lives beside the raw rows it
///   describes: the raw tables' materialized views write it on their own shard, so the
///   completeness check compares each shard's positions with that shard's rows.
/// - Measures, reference data, the rollup's state, the dead letters' positions and the migration
///   log are small and read by every query: a copy on every node.
pub fn placement(table: &str) -> Option<Placement> {
    match table {
        "portal_events" | "dossier_facts" | "dossier_facts_by_bound" => {
            Some(Placement::Sharded { key: "cityHash64(dossier_id)" })
        }
        "edoc_events" | "training_events" | "training_milestones" => {
            Some(Placement::Sharded { key: "cityHash64(unit_code)" })
        }
        // Written by the raw tables' materialized views on the shard of the row they describe;
        // the key says the same, should anything insert through the Distributed table.
        "portal_offsets" | "portal_event_lines" => Some(Placement::Sharded { key: "cityHash64(entity_id)" }),
        "edoc_offsets" | "training_offsets" | "edoc_event_lines" | "training_event_lines" => {
            Some(Placement::Sharded { key: "cityHash64(unit_code)" })
        }
        "measures_daily" | "measures_monthly" | "rollup_state" | "schema_migrations" | "dead_letters" => {
            Some(Placement::Everywhere)
        }
        // The reference data's loads, their rows counted and their marks, and the views of the
        // newest load that took the tables' names (migrations 0013 and 0014; a view's name is
        // qualified like a table's when a view reads it).
        "ref_units_loads"
        | "ref_denominators_loads"
        | "ref_procedures_loads"
        | "ref_targets_loads"
        | "ref_loads"
        | "ref_load_rows" => Some(Placement::Everywhere),
        name if VIEWS_OF_LOADS.contains(&name) => Some(Placement::Everywhere),
        _ => None,
    }
}

/// The reference tables that migration 0013 made views of their loads, dropped on every node
/// then; migration 0014 drops and makes the views again. (Migration 0007 altered one of them
/// while it was a table: a view refuses an ALTER on its own.)
const VIEWS_OF_LOADS: [&str; 4] = ["ref_units", "ref_denominators", "ref_procedures", "ref_targets"];

/// The materialized views that wrote the offsets tables (migration 0010), dropped on every node
/// by migration 0015: they hold no rows of their own.
const OFFSETS_WRITERS: [&str; 3] = ["portal_offsets_writer", "edoc_offsets_writer", "training_offsets_writer"];

/// The statements that apply `statement` (one statement of a single-server migration) to the
/// cluster `cluster`, for the database `database`. Every name is qualified with the database:
/// `ON CLUSTER` statements run on the other nodes in their default database.
pub fn rewrite(statement: &str, cluster: &str, database: &str) -> Result<Vec<String>, String> {
    // Comment lines before the statement are the migration's prose, not SQL to rewrite.
    let start = statement.lines().take_while(|line| line.trim().is_empty() || line.trim_start().starts_with("--"));
    let skipped: usize = start.map(|line| line.len() + 1).sum();
    let text = statement.get(skipped..).unwrap_or(statement).trim();
    let on = format!("ON CLUSTER {cluster}");
    let undeclared = |table: &str| {
        format!(
            "table {table} has no placement for cluster mode: declare it in services/common/clickhouse/src/cluster.rs"
        )
    };
    if let Some(rest) = strip_prefix_words(text, &["CREATE", "TABLE", "IF", "NOT", "EXISTS"]) {
        let (table, body) = split_name(rest)?;
        let (before, engine, args, after) = split_engine(body)?;
        let replicated = |path: &str| {
            let mut arguments = format!("'/clickhouse/tables/{path}', '{{replica}}'");
            if !args.is_empty() {
                arguments.push_str(", ");
                arguments.push_str(&args);
            }
            format!("ENGINE = Replicated{engine}({arguments})")
        };
        return match placement(table).ok_or_else(|| undeclared(table))? {
            Placement::Everywhere => Ok(vec![format!(
                "CREATE TABLE IF NOT EXISTS {database}.{table} {on} {before}{}{after}",
                replicated(&format!("all/{database}/{table}"))
            )]),
            Placement::Sharded { key } => Ok(vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {database}.{table}_local {on} {before}{}{after}",
                    replicated(&format!("{{shard}}/{database}/{table}_local"))
                ),
                distributed(table, cluster, database, key),
            ]),
        };
    }
    if let Some(rest) = strip_prefix_words(text, &["ALTER", "TABLE"]) {
        let (table, change) = split_name(rest)?;
        return match placement(table).ok_or_else(|| undeclared(table))? {
            // One replication group spans every node, so ClickHouse itself carries the change to
            // every replica. `ON CLUSTER` would run it once per shard of the cluster on the same
            // group, and the second run fails when the first one's change has already arrived
            // ("column with this name already exists"; seen on 18.16 under load). migrate() asks
            // the node to wait until every replica has applied it (REPLICATED_ALTER_WAIT).
            Placement::Everywhere => Ok(vec![format!("ALTER TABLE {database}.{table} {change}")]),
            // ClickHouse 18.16 refuses MODIFY ORDER BY in an ALTER ... ON CLUSTER ("Unsupported
            // type of ALTER query"), and a sharded table is only altered that way: a new order
            // needs a new table (as migration 0015 made `<source>_event_lines`).
            Placement::Sharded { .. } if change.to_ascii_uppercase().contains("MODIFY ORDER BY") => Err(format!(
                "a sharded table cannot change its order on a cluster (ClickHouse 18.16 refuses MODIFY ORDER BY \
                 ON CLUSTER); make a new table instead: {}",
                first_line(text)
            )),
            // ClickHouse refuses ALTER ... ON CLUSTER on a Distributed table when the shards are
            // replicated; it holds no data, so it is made again over the altered local tables.
            Placement::Sharded { key } => Ok(vec![
                format!("ALTER TABLE {database}.{table}_local {on} {change}"),
                format!("DROP TABLE IF EXISTS {database}.{table} {on}"),
                distributed(table, cluster, database, key),
            ]),
        };
    }
    if let Some(rest) = strip_prefix_words(text, &["CREATE", "MATERIALIZED", "VIEW", "IF", "NOT", "EXISTS"]) {
        // A materialized view fires on the blocks inserted into the table it reads, on the node
        // that receives them: in a cluster that is the shard's local table (the Distributed
        // table forwards rows there), so it reads and writes local tables, and what it writes
        // lands on the shard of the rows it came from.
        let (view, body) = split_name(rest)?;
        let target = strip_prefix_words(body, &["TO"])
            .ok_or_else(|| format!("a materialized view needs `TO <table>` in cluster mode: {}", first_line(text)))?;
        let (target, query) = split_name(target)?;
        let sharded = |table: &str| matches!(placement(table), Some(Placement::Sharded { .. }));
        if !sharded(target) {
            return Err(format!("materialized view {view} must write to a sharded table, not {target}"));
        }
        return Ok(vec![format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{view} {on} TO {database}.{target}_local {}",
            qualify_local(query, database)?
        )]);
    }
    if let Some(rest) = strip_prefix_words(text, &["CREATE", "VIEW", "IF", "NOT", "EXISTS"]) {
        let (view, body) = split_name(rest)?;
        return Ok(vec![format!("CREATE VIEW IF NOT EXISTS {database}.{view} {on} {}", qualify(body, database))]);
    }
    if let Some(rest) = strip_prefix_words(text, &["CREATE", "VIEW"]) {
        let (view, body) = split_name(rest)?;
        return Ok(vec![format!("CREATE VIEW {database}.{view} {on} {}", qualify(body, database))]);
    }
    if let Some(rest) = strip_prefix_words(text, &["DROP", "TABLE", "IF", "EXISTS"]) {
        let (name, body) = split_name(rest)?;
        // The reference tables that became views were copies on every node: each node drops its
        // own replica. The offsets writers hold no rows: each node drops its own. No other
        // table is dropped (a current ClickHouse would refuse to create a replica again at the
        // same path for minutes after a plain DROP).
        let view = name.starts_with("v_") || VIEWS_OF_LOADS.contains(&name) || OFFSETS_WRITERS.contains(&name);
        if !body.is_empty() || !view {
            return Err(format!("only views may be dropped by a migration in cluster mode: {}", first_line(text)));
        }
        return Ok(vec![format!("DROP TABLE IF EXISTS {database}.{name} {on}")]);
    }
    if let Some(rest) = strip_prefix_words(text, &["INSERT", "INTO"]) {
        let (table, body) = split_name(rest)?;
        // Into a table copied everywhere: one replication group spans every node, so the rows
        // inserted on this one reach the others. Into a sharded table: through its Distributed
        // table, which sends each row to the shard its key names; the migration's client has
        // `insert_distributed_sync` (lib.rs), so the statement returns once every shard holds
        // its rows, and the rollup that starts after the migration reads them all (a copy of
        // existing rows, such as migration 0017's, reads the Distributed tables too).
        if placement(table).is_none() || VIEWS_OF_LOADS.contains(&table) {
            return Err(format!(
                "a migration may insert only into a table with a placement in cluster mode, not a view: {}",
                first_line(text)
            ));
        }
        return Ok(vec![format!("INSERT INTO {database}.{table} {}", qualify(body, database))]);
    }
    Err(format!("statement not supported in cluster mode: {}", first_line(text)))
}

fn distributed(table: &str, cluster: &str, database: &str, key: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.{table} ON CLUSTER {cluster} AS {database}.{table}_local \
         ENGINE = Distributed({cluster}, {database}, {table}_local, {key})"
    )
}

/// `body` with the name of each table it reads (the word after `FROM ` or `JOIN `; empty for a
/// subquery) replaced by what `rename` makes of it.
fn rename_read_tables<E>(body: &str, mut rename: impl FnMut(&str) -> Result<String, E>) -> Result<String, E> {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = ["FROM ", "JOIN "].iter().filter_map(|word| rest.find(word).map(|i| i + word.len())).min() {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        out.push_str(&rename(&rest[..end])?);
        rest = &rest[end..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A view's query with every table it reads (`FROM t`, `JOIN t`) qualified with `database`.
fn qualify(body: &str, database: &str) -> String {
    let qualified = rename_read_tables(body, |table| {
        Ok::<_, std::convert::Infallible>(match placement(table) {
            Some(_) => format!("{database}.{table}"),
            None => table.to_owned(),
        })
    });
    match qualified {
        Ok(text) => text,
        Err(never) => match never {},
    }
}

/// A materialized view's query with the sharded table it reads replaced by its local table;
/// any other table is refused (its rows would not be on the shard the view writes to).
fn qualify_local(body: &str, database: &str) -> Result<String, String> {
    // Tables are found after `FROM ` and `JOIN `: one written in lower case would be missed and
    // the view would read the Distributed table, so it is refused instead.
    let upper = body.to_ascii_uppercase();
    if ["FROM ", "JOIN "].iter().any(|word| upper.matches(word).count() != body.matches(word).count()) {
        return Err(format!("write FROM and JOIN in capitals in a materialized view: {}", first_line(body)));
    }
    rename_read_tables(body, |table| match placement(table) {
        Some(Placement::Sharded { .. }) => Ok(format!("{database}.{table}_local")),
        _ => Err(format!("a materialized view may read only a sharded table in cluster mode, not {table:?}")),
    })
}

/// `text` without the leading `words` (any case, any whitespace between), if it starts with
/// them.
fn strip_prefix_words<'a>(text: &'a str, words: &[&str]) -> Option<&'a str> {
    let mut rest = text;
    for word in words {
        rest = rest.trim_start();
        let head = rest.get(..word.len())?;
        if !head.eq_ignore_ascii_case(word) || rest[word.len()..].chars().next().is_some_and(is_name_char) {
            return None;
        }
        rest = &rest[word.len()..];
    }
    Some(rest.trim_start())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A leading identifier and what follows it.
fn split_name(text: &str) -> Result<(&str, &str), String> {
    let end = text.find(|c: char| !is_name_char(c)).unwrap_or(text.len());
    if end == 0 {
        return Err(format!("expected a table name: {}", first_line(text)));
    }
    Ok((&text[..end], text[end..].trim_start()))
}

/// Splits a table body at its `ENGINE = Name(args)`: (what comes before, the engine's name, its
/// arguments without parentheses, what comes after).
fn split_engine(body: &str) -> Result<(&str, &str, String, &str), String> {
    let at = body.find("ENGINE = ").ok_or_else(|| format!("no `ENGINE = ` in {}", first_line(body)))?;
    let after_engine = &body[at + "ENGINE = ".len()..];
    let name_end = after_engine.find(|c: char| !is_name_char(c)).unwrap_or(after_engine.len());
    let engine = &after_engine[..name_end];
    if !engine.ends_with("MergeTree") {
        return Err(format!("only MergeTree engines can be replicated, not {engine}"));
    }
    let mut rest = &after_engine[name_end..];
    let mut args = String::new();
    if let Some(inside) = rest.strip_prefix('(') {
        let close = inside.find(')').ok_or_else(|| format!("unclosed engine arguments in {}", first_line(body)))?;
        args = inside[..close].trim().to_owned();
        rest = &inside[close + 1..];
    }
    Ok((&body[..at], engine, args, rest))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sharded_table_becomes_replicated_local_tables_behind_a_distributed_one() {
        let statement = "CREATE TABLE IF NOT EXISTS dossier_facts\n(\n    dossier_id String,\n    version UInt64\n)\n\
                         ENGINE = ReplacingMergeTree(version)\nORDER BY (dossier_id)";
        let out = rewrite(statement, "ioc", "prod").expect("rewritten");
        assert_eq!(out.len(), 2);
        assert!(
            out[0].starts_with("CREATE TABLE IF NOT EXISTS prod.dossier_facts_local ON CLUSTER ioc (\n"),
            "{}",
            out[0]
        );
        assert!(
            out[0].contains(
                "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/prod/dossier_facts_local', '{replica}', version)\nORDER BY"
            ),
            "{}",
            out[0]
        );
        assert!(out[1].contains(
            "prod.dossier_facts ON CLUSTER ioc AS prod.dossier_facts_local ENGINE = Distributed(ioc, prod, dossier_facts_local, cityHash64(dossier_id))"
        ));
    }

    #[test]
    fn a_small_table_is_copied_everywhere_and_altered_on_the_cluster() {
        let out =
            rewrite("CREATE TABLE IF NOT EXISTS ref_units (code String) ENGINE = MergeTree ORDER BY code", "c", "d")
                .expect("rewritten");
        assert_eq!(
            out,
            ["CREATE TABLE IF NOT EXISTS d.ref_units ON CLUSTER c (code String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/d/ref_units', '{replica}') ORDER BY code"]
        );
        let out = rewrite("ALTER TABLE ref_targets ADD COLUMN kind String AFTER year", "c", "d").expect("rewritten");
        assert_eq!(out, ["ALTER TABLE d.ref_targets ADD COLUMN kind String AFTER year"]);
        let reordered = rewrite("ALTER TABLE portal_offsets ADD COLUMN l UInt8, MODIFY ORDER BY (a, l)", "c", "d");
        assert!(reordered.expect_err("refused").contains("MODIFY ORDER BY"));
        let copied = rewrite("ALTER TABLE dead_letters ADD COLUMN l UInt8, MODIFY ORDER BY (a, l)", "c", "d");
        assert_eq!(
            copied.expect("a copy everywhere is altered by replication"),
            ["ALTER TABLE d.dead_letters ADD COLUMN l UInt8, MODIFY ORDER BY (a, l)"]
        );
        let out = rewrite("ALTER TABLE portal_events ADD COLUMN x UInt8", "c", "d").expect("rewritten");
        assert_eq!(out[0], "ALTER TABLE d.portal_events_local ON CLUSTER c ADD COLUMN x UInt8");
        assert_eq!(out[1], "DROP TABLE IF EXISTS d.portal_events ON CLUSTER c");
    }

    #[test]
    fn views_go_on_every_node_and_anything_else_is_refused_by_name() {
        let out = rewrite("CREATE VIEW IF NOT EXISTS v_units AS\nSELECT code FROM ref_units", "c", "d").expect("view");
        assert_eq!(out, ["CREATE VIEW IF NOT EXISTS d.v_units ON CLUSTER c AS\nSELECT code FROM d.ref_units"]);
        let out = rewrite("CREATE VIEW v AS SELECT * FROM (SELECT x FROM rollup_state) JOIN nothing_known", "c", "d")
            .expect("view");
        assert_eq!(
            out,
            ["CREATE VIEW d.v ON CLUSTER c AS SELECT * FROM (SELECT x FROM d.rollup_state) JOIN nothing_known"]
        );
        let error = rewrite("CREATE TABLE IF NOT EXISTS mystery (x UInt8) ENGINE = MergeTree ORDER BY x", "c", "d")
            .expect_err("undeclared table");
        assert!(error.contains("mystery") && error.contains("cluster.rs"), "{error}");
        assert!(rewrite("DROP TABLE IF EXISTS portal_events", "c", "d").is_err());
        assert!(rewrite("INSERT INTO ref_units VALUES ('x')", "c", "d").is_err(), "a view");
        assert!(rewrite("INSERT INTO mystery VALUES ('x')", "c", "d").is_err(), "undeclared");
    }

    #[test]
    fn a_table_copied_everywhere_is_dropped_on_every_node_and_its_view_reads_the_loads() {
        let out = rewrite("DROP TABLE IF EXISTS ref_units", "c", "d").expect("dropped");
        assert_eq!(out, ["DROP TABLE IF EXISTS d.ref_units ON CLUSTER c"]);
        let view = "CREATE VIEW ref_units AS\nSELECT code FROM ref_units_loads\n\
                    WHERE load_id = (SELECT max(load_id) FROM ref_units_loads)";
        assert_eq!(
            rewrite(view, "c", "d").expect("view"),
            ["CREATE VIEW d.ref_units ON CLUSTER c AS\nSELECT code FROM d.ref_units_loads\n\
              WHERE load_id = (SELECT max(load_id) FROM d.ref_units_loads)"]
        );
        let writer = rewrite("DROP TABLE IF EXISTS edoc_offsets_writer", "c", "d").expect("a writer view is dropped");
        assert_eq!(writer, ["DROP TABLE IF EXISTS d.edoc_offsets_writer ON CLUSTER c"]);
        assert!(rewrite("DROP TABLE IF EXISTS edoc_offsets", "c", "d").is_err(), "its table stays");
        assert!(rewrite("DROP TABLE IF EXISTS dossier_facts", "c", "d").is_err(), "sharded tables stay");
        assert!(rewrite("DROP TABLE IF EXISTS rollup_state", "c", "d").is_err(), "and the others");
        let copied = "INSERT INTO ref_units_loads SELECT 1 AS load_id, code FROM ref_units";
        assert_eq!(
            rewrite(copied, "c", "d").expect("copied once, replicated"),
            ["INSERT INTO d.ref_units_loads SELECT 1 AS load_id, code FROM d.ref_units"]
        );
    }

    #[test]
    fn rows_copied_into_a_sharded_table_go_through_its_distributed_table() {
        let copied = "INSERT INTO training_milestones (event_id) SELECT event_id FROM training_events WHERE type = 'x'";
        assert_eq!(
            rewrite(copied, "c", "d").expect("copied through the Distributed tables"),
            ["INSERT INTO d.training_milestones (event_id) SELECT event_id FROM d.training_events WHERE type = 'x'"]
        );
    }

    #[test]
    fn a_materialized_view_reads_and_writes_the_local_tables_of_its_shard() {
        let out = rewrite(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO edoc_offsets AS\nSELECT event_id FROM edoc_events",
            "c",
            "d",
        )
        .expect("view");
        assert_eq!(
            out,
            ["CREATE MATERIALIZED VIEW IF NOT EXISTS d.mv ON CLUSTER c TO d.edoc_offsets_local AS\nSELECT event_id FROM d.edoc_events_local"]
        );
        let to_everywhere = "CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO rollup_state AS SELECT 1 FROM edoc_events";
        assert!(rewrite(to_everywhere, "c", "d").expect_err("not sharded").contains("rollup_state"));
        let from_everywhere = "CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO edoc_offsets AS SELECT 1 FROM ref_units";
        assert!(rewrite(from_everywhere, "c", "d").expect_err("not sharded").contains("ref_units"));
        let lower_case = "CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO edoc_offsets AS SELECT 1 from edoc_events";
        assert!(rewrite(lower_case, "c", "d").expect_err("lower case").contains("capitals"));
        let without_target = "CREATE MATERIALIZED VIEW IF NOT EXISTS mv ENGINE = Log AS SELECT 1 FROM edoc_events";
        assert!(rewrite(without_target, "c", "d").expect_err("no TO").contains("TO <table>"));
    }

    #[test]
    fn every_project_migration_can_run_on_a_cluster() {
        for migration in crate::embedded_migrations() {
            for statement in crate::migrate::statements(&migration.text) {
                let rewritten = rewrite(statement, "ioc", "ioc").unwrap_or_else(|e| panic!("{}: {e}", migration.name));
                // Every statement reaches every node: through `ON CLUSTER`, through replication
                // for an ALTER of or an INSERT into a table copied everywhere, or through the
                // Distributed table for an INSERT into a sharded one.
                let placed = |s: &str, verb: &str| {
                    s.strip_prefix(verb).and_then(|rest| rest.split(' ').next()).and_then(placement)
                };
                assert!(
                    rewritten.iter().all(|s| s.contains("ON CLUSTER ioc")
                        || placed(s, "ALTER TABLE ioc.") == Some(Placement::Everywhere)
                        || placed(s, "INSERT INTO ioc.").is_some()),
                    "{}: {rewritten:?}",
                    migration.name
                );
            }
        }
    }
}
