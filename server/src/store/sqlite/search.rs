//! Reading the search index: the messages matching an FTS5 expression (made
//! by `crate::search::text`, never typed by a person), in rooms the viewer may
//! read (every room; a direct conversation only for its two people), best
//! first by BM25, then newest.

use app::protocol::{Seq, Timestamp};
use app::room_name::RoomName;

use super::SqliteStore;
use crate::store::{Found, Result, SearchRequest};

/// A matching message, with its room and, in a direct conversation, the
/// other person.
#[derive(sqlx::FromRow)]
struct FoundRow {
    room: String,
    seq: i64,
    author: String,
    body: String,
    created_at: i64,
    other_username: Option<String>,
    other_name: Option<String>,
}

impl SqliteStore {
    pub(super) async fn select_found(&self, request: &SearchRequest) -> Result<Vec<Found>> {
        let me = request.viewer.map(|a| a.0);
        let rows: Vec<FoundRow> = sqlx::query_as(
            "WITH hits AS (
                 SELECT rowid, rank FROM search WHERE search MATCH ?1 ORDER BY rank LIMIT ?6
             ),
             found AS (
                 SELECT r.name AS room, m.seq, m.author, m.body, m.created_at, hits.rank,
                        CASE WHEN r.name LIKE '@%' THEN
                            CASE WHEN CAST(substr(r.name, 2, instr(r.name, '.') - 2) AS INTEGER) = ?2
                                 THEN CAST(substr(r.name, instr(r.name, '.') + 1) AS INTEGER)
                                 ELSE CAST(substr(r.name, 2, instr(r.name, '.') - 2) AS INTEGER) END
                        END AS other
                   FROM hits
                   JOIN messages m ON m.room_id = hits.rowid >> 32 AND m.seq = hits.rowid & 4294967295
                   JOIN rooms r ON r.id = m.room_id
                  WHERE m.deleted_at IS NULL
                    AND (?3 IS NULL OR r.name = ?3)
                    AND (?4 IS NULL OR m.username = ?4)
             )
             SELECT f.room, f.seq, f.author, f.body, f.created_at,
                    o.username AS other_username, o.display_name AS other_name
               FROM found f LEFT JOIN accounts o ON o.id = f.other
              WHERE f.room NOT LIKE '@%' OR f.room LIKE '@' || ?2 || '.%' OR f.room LIKE '@%.' || ?2
              ORDER BY f.rank, f.seq DESC
              LIMIT ?5",
        )
        .bind(&request.expression)
        .bind(me)
        .bind(request.room.as_ref().map(RoomName::as_str))
        .bind(request.author.as_deref())
        .bind(request.limit)
        // The best matches are enough when every room is searched (some may be
        // others' conversations); within a room or an author, all of them.
        .bind(if request.room.is_none() && request.author.is_none() { 2_000 } else { -1 })
        .fetch_all(&self.readers)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let room = RoomName::parse_key(&row.room).ok()?;
                Some(Found {
                    room,
                    seq: Seq(row.seq as u64),
                    author: row.author,
                    body: row.body,
                    sent_at: Timestamp(row.created_at),
                    with: row.other_username.zip(row.other_name),
                })
            })
            .collect())
    }
}
