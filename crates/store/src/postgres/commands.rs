//! Commands for devices on PostgreSQL, and the [`CommandStore`] implementation. A status change
//! is one conditional `UPDATE`: two nodes updating one command cannot both pass the check.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::PgStore;
use crate::secrets::{self, Sealer};
use crate::sqlite::convert::{name_list, parsed, small};
use crate::{Command, CommandStatus, CommandStore, NewCommand, Result, StoreError};

const COMMAND_COLUMNS: &str = "id, mn, cn, cp, origin, created_at, qn, status, attempts, updated_at, detail";

#[derive(sqlx::FromRow)]
struct CommandRow {
    id: i64,
    mn: String,
    cn: String,
    cp: String,
    origin: String,
    created_at: i64,
    qn: Option<String>,
    status: String,
    attempts: i64,
    updated_at: i64,
    detail: Option<String>,
}

/// A command's parameters as stored: sealed when they carry a secret (1072's new password).
fn seal_cp(sealer: &Sealer, c: &NewCommand) -> Result<String> {
    if secrets::command_is_secret(&c.cn) {
        sealer.seal(&secrets::command_owner(&c.mn), &c.cp)
    } else {
        Ok(c.cp.clone())
    }
}

impl CommandRow {
    /// The command, its parameters opened with `sealer` (a 1072's are stored sealed).
    fn into_command(self, sealer: &Sealer) -> Result<Command> {
        let cp = sealer.open(&secrets::command_owner(&self.mn), &self.cp)?;
        Ok(Command {
            id: self.id,
            new: NewCommand {
                mn: self.mn,
                cn: self.cn,
                cp,
                origin: self.origin,
                created_at: self.created_at,
            },
            qn: self.qn,
            status: parsed(CommandStatus::parse, &self.status, "command status")?,
            attempts: small(self.attempts, "attempts")?,
            updated_at: self.updated_at,
            detail: self.detail,
        })
    }
}

#[async_trait]
impl CommandStore for PgStore {
    async fn enqueue_command(&self, c: &NewCommand) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO commands (mn, cn, cp, origin, created_at, status, attempts, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6) RETURNING id",
        )
        .bind(&c.mn)
        .bind(&c.cn)
        .bind(seal_cp(&self.sealer, c)?)
        .bind(&c.origin)
        .bind(c.created_at)
        .bind(c.created_at)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn open_commands(&self, mn: &str) -> Result<Vec<Command>> {
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands \
             WHERE mn = $1 AND status IN ('queued', 'sent', 'accepted') ORDER BY id"
        );
        let rows = sqlx::query_as::<_, CommandRow>(AssertSqlSafe(sql)).bind(mn).fetch_all(&self.pool).await?;
        rows.into_iter().map(|r| r.into_command(&self.sealer)).collect()
    }

    async fn update_command(
        &self,
        id: i64,
        status: CommandStatus,
        qn: Option<&str>,
        attempts: u32,
        detail: Option<&str>,
        at: i64,
    ) -> Result<()> {
        // Only from a status that may become `status` (core's rule), decided in the statement
        // itself so that two writers of one command cannot both pass the check.
        let from = name_list(
            CommandStatus::ALL.into_iter().filter(|s| s.can_become(status)).map(CommandStatus::name),
        );
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE commands SET status = $1, qn = COALESCE($2, qn), attempts = $3, \
             detail = COALESCE($4, detail), updated_at = $5 WHERE id = $6 AND status IN ({from})"
        )))
        .bind(status.name())
        .bind(qn)
        .bind(i64::from(attempts))
        .bind(detail)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let now: Option<String> = sqlx::query_scalar("SELECT status FROM commands WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match now {
            None => Err(StoreError::NotFound(format!("command {id}"))),
            Some(now) => Err(StoreError::Conflict(format!(
                "command {id} is {now} and cannot become {}",
                status.name()
            ))),
        }
    }

    async fn commands(&self, mn: Option<&str>, limit: u32) -> Result<Vec<Command>> {
        let rows = match mn {
            Some(mn) => {
                let sql =
                    format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE mn = $1 ORDER BY id DESC LIMIT $2");
                sqlx::query_as::<_, CommandRow>(AssertSqlSafe(sql))
                    .bind(mn)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {COMMAND_COLUMNS} FROM commands ORDER BY id DESC LIMIT $1");
                sqlx::query_as::<_, CommandRow>(AssertSqlSafe(sql))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.into_iter().map(|r| r.into_command(&self.sealer)).collect()
    }
}
