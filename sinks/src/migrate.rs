//! ClickHouse schema migrations: the SQL files in `sinks/migrations/NNN_name.sql`, compiled
//! into the binary and applied in order by `tradeflow clickhouse migrate`.
//!
//! - `{database}` in a file is replaced by the target database (`--database`, default
//!   `tradeflow`), which is created if missing.
//! - A file holds statements separated by `;` at the end of a line; `--` comment lines are
//!   ignored. Each statement is sent as one HTTP request (ClickHouse runs one statement per
//!   request).
//! - `<database>.schema_migrations` records each applied file with a checksum (FNV-1a 64 of
//!   its text: change detection, not security). A file already recorded is skipped, so
//!   re-running applies nothing; a recorded file whose text changed is an error (add a new
//!   file instead). A file is recorded after all its statements succeeded, and every
//!   statement is `IF NOT EXISTS`, so a run interrupted mid-file can simply be re-run.
//! - The SQL sticks to what ClickHouse 18.16 understands (no DateTime64, LowCardinality, Map,
//!   TTL or query parameters), and works unchanged on current versions (checked on 26.9 by
//!   tests/integration/clickhouse_current.rs; `tradeflow clickhouse print-sql` prints it).

use clickhouse::Client;
use serde::Deserialize;

/// One migration file.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// File name, e.g. `001_event_tables.sql`; applied in this order.
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($file:literal),* $(,)?) => {
        /// Every migration, in application order (a test checks this matches the directory).
        pub const MIGRATIONS: &[Migration] = &[$(
            Migration { name: $file, sql: include_str!(concat!("../migrations/", $file)) },
        )*];
    };
}

migrations!("001_event_tables.sql", "002_analyst_views.sql", "003_report_views.sql");

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("invalid database name {0:?} (letters, digits and _ only)")]
    InvalidDatabase(String),
    #[error("{file}: statement {index} failed: {source}\n{statement}")]
    Statement { file: &'static str, index: usize, statement: String, source: clickhouse::error::Error },
    #[error("ClickHouse request failed: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    #[error("{file} was applied with checksum {applied} but now has {current}: applied migrations must not change (add a new file)")]
    Changed { file: String, applied: String, current: String },
}

/// FNV-1a 64 of `text`, as 16 hex digits.
pub fn checksum(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The statements of a migration for `database`.
pub fn statements(sql: &str, database: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().replace("{database}", database);
            out.push(stmt);
            cur.clear();
        }
    }
    let rest = cur.trim();
    if !rest.is_empty() {
        out.push(rest.replace("{database}", database));
    }
    out
}

/// Creates the target database (the first statement of a migration run).
pub fn create_database_sql(database: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS {database}")
}

/// The table recording applied migrations (created before any migration runs).
pub fn schema_migrations_ddl(database: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.schema_migrations \
         (name String, checksum String, applied_at DateTime DEFAULT now()) \
         ENGINE = MergeTree() ORDER BY name"
    )
}

/// Records migration `name` as applied with `checksum`.
pub fn record_sql(database: &str, name: &str, checksum: &str) -> String {
    // Names and checksums are [0-9a-z_.] only: safe to inline.
    format!("INSERT INTO {database}.schema_migrations (name, checksum) VALUES ('{name}', '{checksum}')")
}

/// The query reading back what was applied (`name`, `checksum` rows).
pub fn applied_sql(database: &str) -> String {
    format!("SELECT name, checksum FROM {database}.schema_migrations ORDER BY name")
}

#[derive(clickhouse::Row, Deserialize)]
struct Applied {
    name: String,
    checksum: String,
}

/// Applies every migration not yet recorded in `<database>.schema_migrations`, in order.
/// Returns the names of the files applied by this call (empty when up to date).
pub async fn migrate(url: &str, database: &str) -> Result<Vec<&'static str>, MigrateError> {
    if database.is_empty() || !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(MigrateError::InvalidDatabase(database.to_string()));
    }
    // No `database` on this client: the database may not exist yet.
    let client = Client::default().with_url(url).with_validation(false);
    client.query_raw(&create_database_sql(database)).execute().await?;
    client.query_raw(&schema_migrations_ddl(database)).execute().await?;
    let applied: Vec<Applied> = client
        .query_raw(&applied_sql(database))
        .fetch_all()
        .await?;
    let mut done = Vec::new();
    for m in MIGRATIONS {
        let current = checksum(m.sql);
        if let Some(a) = applied.iter().find(|a| a.name == m.name) {
            if a.checksum != current {
                return Err(MigrateError::Changed { file: a.name.clone(), applied: a.checksum.clone(), current });
            }
            continue;
        }
        for (index, statement) in statements(m.sql, database).into_iter().enumerate() {
            if let Err(source) = client.query_raw(&statement).execute().await {
                return Err(MigrateError::Statement { file: m.name, index: index + 1, statement, source });
            }
        }
        client.query_raw(&record_sql(database, m.name, &current)).execute().await?;
        tracing::info!(file = m.name, database, "migration applied");
        done.push(m.name);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_matches_the_directory_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.name).collect();
        assert_eq!(files, listed);
        for (i, f) in files.iter().enumerate() {
            let n: usize = f[..3].parse().expect("NNN_ prefix");
            assert_eq!(n, i + 1, "{f}: numbers must be consecutive from 001");
            assert!(f.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'), "{f}");
        }
    }

    #[test]
    fn statements_are_split_and_use_only_18_16_features() {
        for m in MIGRATIONS {
            let stmts = statements(m.sql, "db");
            assert!(!stmts.is_empty(), "{}", m.name);
            for s in &stmts {
                assert!(!s.contains("{database}") && !s.contains(';'), "{}: {s}", m.name);
                assert!(s.contains("IF NOT EXISTS"), "{}: not idempotent: {s}", m.name);
                for banned in ["DateTime64", "LowCardinality", "Map(", " TTL ", "Float", "{"] {
                    assert!(!s.contains(banned), "{}: {banned} in {s}", m.name);
                }
            }
        }
    }

    #[test]
    fn checksum_is_stable() {
        assert_eq!(checksum(""), "cbf29ce484222325");
        assert_ne!(checksum("a"), checksum("b"));
    }
}
