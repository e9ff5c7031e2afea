//! Search in PostgreSQL: the messages whose tsvector (written with each
//! message, of `crate::search::text::indexed`) matches the query's tsquery
//! (`crate::search::text::ts_query`, never typed by a person), in rooms the
//! viewer may read (every room; a direct conversation only for its two
//! people), within a room and by an author when asked. Ranked by
//! `ts_rank` with the document's length counted (normalisation 1, as BM25
//! favours the shorter of two messages with a word once), then newest; the
//! matches are found through the GIN index.

use app::protocol::{Seq, Timestamp};
use app::room_name::RoomName;

use super::PgStore;
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

impl PgStore {
    pub(super) async fn select_found(&self, request: &SearchRequest) -> Result<Vec<Found>> {
        let Some(query) = crate::search::text::ts_query(&request.query) else { return Ok(Vec::new()) };
        let rows: Vec<FoundRow> = sqlx::query_as(
            // A direct conversation's name is `@<low id>.<high id>`: the viewer
            // reads it when one of them is theirs, and the other is named.
            "WITH q AS (SELECT to_tsquery('simple', chat_unaccent($1)) AS q),
                  found AS (
                 SELECT r.name AS room, m.seq, m.author, m.body, m.created_at,
                        ts_rank(m.search, q.q, 1) AS rank,
                        CASE WHEN r.name LIKE '@%' THEN
                            CASE WHEN split_part(substr(r.name, 2), '.', 1)::bigint = $2
                                 THEN split_part(substr(r.name, 2), '.', 2)::bigint
                                 ELSE split_part(substr(r.name, 2), '.', 1)::bigint END
                        END AS other
                   FROM q, messages m JOIN rooms r ON r.id = m.room_id
                  WHERE m.search @@ q.q
                    AND m.deleted_at IS NULL
                    AND ($3::text IS NULL OR r.name = $3)
                    AND ($4::text IS NULL OR m.username = $4)
                    AND (r.name NOT LIKE '@%'
                         OR split_part(substr(r.name, 2), '.', 1) = $2::text
                         OR split_part(substr(r.name, 2), '.', 2) = $2::text)
             )
             SELECT f.room, f.seq, f.author, f.body, f.created_at,
                    o.username AS other_username, o.display_name AS other_name
               FROM found f LEFT JOIN accounts o ON o.id = f.other
              ORDER BY f.rank DESC, f.created_at DESC, f.seq DESC
              LIMIT $5",
        )
        .bind(query)
        .bind(request.viewer.map(|a| a.0))
        .bind(request.room.as_ref().map(RoomName::as_str))
        .bind(request.author.as_deref())
        .bind(i64::from(request.limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(Found {
                    room: RoomName::parse_key(&row.room).ok()?,
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
