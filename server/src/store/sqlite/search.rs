//! Reading the search index: the messages matching an FTS5 expression (made
//! by `crate::search::text`, never typed by a person), in rooms the viewer may
//! read (every room; a direct conversation only for its two people). When
//! every word is in at most [`RANK_UP_TO`] messages, the matches are ranked
//! (BM25, then newest); past that, ranking would score every match (half a
//! second for a word in 100,000 messages of a million), so they come newest
//! first, read from the index's newest row until a page is full.

use app::protocol::{Seq, Timestamp};
use app::room_name::RoomName;

use super::SqliteStore;
use crate::store::{Found, Result, SearchRequest};

/// Matches ranked at most (by the rarest word's count of messages).
pub const RANK_UP_TO: i64 = 10_000;

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

/// The matching messages' rows (from `hits`, one row per index row id and
/// its order), kept to what the viewer may read and the filters, with their
/// rooms and the other person of a direct conversation.
macro_rules! found_from_hits {
    () => {
        "found AS (
             SELECT r.name AS room, m.seq, m.author, m.body, m.created_at, hits.ord,
                    CASE WHEN r.name LIKE '@%' THEN
                        CASE WHEN CAST(substr(r.name, 2, instr(r.name, '.') - 2) AS INTEGER) = ?2
                             THEN CAST(substr(r.name, instr(r.name, '.') + 1) AS INTEGER)
                             ELSE CAST(substr(r.name, 2, instr(r.name, '.') - 2) AS INTEGER) END
                    END AS other
               FROM hits
               CROSS JOIN search_rows sr ON sr.id = hits.rowid
               CROSS JOIN messages m ON m.room_id = sr.room_id AND m.seq = sr.seq
               CROSS JOIN rooms r ON r.id = m.room_id
              WHERE m.deleted_at IS NULL
                AND (?3 IS NULL OR r.name = ?3)
                AND (?4 IS NULL OR m.username = ?4)
                AND (r.name NOT LIKE '@%' OR r.name LIKE '@' || ?2 || '.%' OR r.name LIKE '@%.' || ?2)
         )
         SELECT f.room, f.seq, f.author, f.body, f.created_at,
                o.username AS other_username, o.display_name AS other_name
           FROM found f LEFT JOIN accounts o ON o.id = f.other
          ORDER BY f.ord
          LIMIT ?5"
    };
}

/// Ranked: every match scored (the best `?6` when no filter narrows them).
const RANKED: &str = concat!(
    "WITH hits AS (
         SELECT rowid, rank AS ord FROM search WHERE search MATCH ?1 ORDER BY rank LIMIT ?6
     ), ",
    found_from_hits!()
);

/// Newest first: the index read from its newest row, as far as it takes.
const NEWEST: &str = "SELECT r.name AS room, m.seq, m.author, m.body, m.created_at,
            o.username AS other_username, o.display_name AS other_name
       FROM search s
       CROSS JOIN search_rows sr ON sr.id = s.rowid
       CROSS JOIN messages m ON m.room_id = sr.room_id AND m.seq = sr.seq
       CROSS JOIN rooms r ON r.id = m.room_id
       LEFT JOIN accounts o ON o.id = CASE WHEN r.name LIKE '@%' THEN
                CASE WHEN CAST(substr(r.name, 2, instr(r.name, '.') - 2) AS INTEGER) = ?2
                     THEN CAST(substr(r.name, instr(r.name, '.') + 1) AS INTEGER)
                     ELSE CAST(substr(r.name, 2, instr(r.name, '.') - 2) AS INTEGER) END END
      WHERE search MATCH ?1
        AND m.deleted_at IS NULL
        AND (?3 IS NULL OR r.name = ?3)
        AND (?4 IS NULL OR m.username = ?4)
        AND (r.name NOT LIKE '@%' OR r.name LIKE '@' || ?2 || '.%' OR r.name LIKE '@%.' || ?2)
      ORDER BY s.rowid DESC
      LIMIT ?5";

impl SqliteStore {
    pub(super) async fn select_found(&self, request: &SearchRequest) -> Result<Vec<Found>> {
        let me = request.viewer.map(|a| a.0);
        // The rarest word's count of messages (a word in none: nothing to find).
        let mut rarest: Option<i64> = None;
        for term in &request.terms {
            let count: Option<i64> = sqlx::query_scalar("SELECT doc FROM search_terms WHERE term = ?1")
                .bind(term)
                .fetch_optional(&self.readers)
                .await?;
            let count = count.unwrap_or(0);
            rarest = Some(rarest.map_or(count, |r| r.min(count)));
        }
        if rarest == Some(0) {
            return Ok(Vec::new());
        }
        let ranked = rarest.is_none_or(|count| count <= RANK_UP_TO);
        let expression = crate::search::text::narrowed(
            &request.expression,
            request.room.as_ref().map(RoomName::as_str),
            request.author.as_deref(),
        );
        let query = sqlx::query_as(if ranked { RANKED } else { NEWEST })
            .bind(expression)
            .bind(me)
            .bind(request.room.as_ref().map(RoomName::as_str))
            .bind(request.author.as_deref())
            .bind(request.limit);
        let query = if ranked {
            // The best matches are enough when every room is searched (some may
            // be others' conversations); within a room or an author, all of them.
            query.bind(if request.room.is_none() && request.author.is_none() { 2_000 } else { -1 })
        } else {
            query
        };
        let rows: Vec<FoundRow> = query.fetch_all(&self.readers).await?;
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
