//! How fast search is on a big database: 1,000,000 messages in 100 rooms
//! (words drawn from a vocabulary by a Zipf-like law, one message in twenty in
//! Japanese), indexed by the store's background indexer as they are stored;
//! then 100 queries of every kind (frequent, rare, two words, Japanese, within
//! a room, by an author), each timed through the store's search and the
//! snippet a result shows.
//!
//! `cargo bench -p server --bench search` prints the figures; BENCHMARKS.md
//! keeps them.

use std::time::Instant;

use app::protocol::{ClientMsgId, Timestamp};
use app::room_name::RoomName;
use server::search::text::snippet;
use server::store::{AccountId, MessageWriter, NewMessage, SearchRequest, SqliteStore, Store};

const MESSAGES: u64 = 1_000_000;
const ROOMS: u64 = 100;
const VOCABULARY: usize = 5_000;
const JAPANESE: [&str; 6] = [
    "明日の会議は10時からです",
    "東京駅で待ち合わせしましょう",
    "新しいデザインを確認してください",
    "週末は京都に行きました",
    "サーバーの再起動が必要です",
    "会議室の予約をお願いします",
];

/// A deterministic generator (xorshift), so every run searches the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word rank from 0 (commonest) by a Zipf-like law.
    fn rank(&mut self) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((VOCABULARY as f64).powf(u) as usize).saturating_sub(1).min(VOCABULARY - 1)
    }
}

fn word(rank: usize) -> String {
    // Pronounceable, distinct: consonant-vowel pairs from the rank's digits.
    const C: &[u8] = b"bdfgklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut n = rank + 1;
    let mut out = String::new();
    while n > 0 {
        out.push(C[n % C.len()] as char);
        n /= C.len();
        out.push(V[n % V.len()] as char);
        n /= V.len();
    }
    out
}

fn body(rng: &mut Rng, i: u64) -> String {
    if i % 20 == 7 {
        return JAPANESE[(rng.next() % JAPANESE.len() as u64) as usize].to_owned();
    }
    let len = 4 + rng.next() % 14;
    (0..len).map(|_| word(rng.rank())).collect::<Vec<_>>().join(" ")
}

fn message(rng: &mut Rng, i: u64) -> NewMessage {
    let author = i % 500;
    NewMessage {
        room: RoomName::parse(&format!("room-{}", i % ROOMS)).unwrap(),
        author_id: AccountId(author as i64 + 1),
        author: format!("user{author}"),
        author_username: format!("user{author}"),
        mentioned: Vec::new(),
        body: if i == MESSAGES - 1 { "the last one: sentinelword".into() } else { body(rng, i) },
        client_id: ClientMsgId(format!("c{i}")),
        sent_at: Timestamp(1_795_000_000_000 + i as i64),
        reply: None,
        file: None,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    println!("search benchmark ({} cores)", std::thread::available_parallelism().map_or(1, |n| n.get()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let (store, mut writer) = SqliteStore::open(&path).await.unwrap();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(5_000);
    for i in 0..MESSAGES {
        batch.push(message(&mut rng, i));
        if batch.len() == 5_000 {
            writer.append_batch(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    let stored = started.elapsed().as_secs_f64();
    let sentinel = SearchRequest::new("sentinelword", None, 1).unwrap();
    while store.search(&sentinel).await.unwrap().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let indexed = started.elapsed().as_secs_f64();
    println!(
        "stored {MESSAGES} messages in {ROOMS} rooms in {stored:.1} s ({:.0}/s) while indexing; all indexed after {indexed:.1} s ({:.0}/s)",
        MESSAGES as f64 / stored,
        MESSAGES as f64 / indexed
    );
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / 1e6;
    println!("database file {:.0} MB, its log {:.0} MB", size(&path), size(&path.with_extension("db-wal")));

    // 100 queries: 20 of each kind.
    let mut queries: Vec<(&str, String, Option<&str>, Option<String>)> = Vec::new();
    for k in 0..20 {
        queries.push(("frequent word", word(k % 5), None, None));
        queries.push(("rare word", word(2_000 + k * 97), None, None));
        queries.push(("two words", format!("{} {}", word(k + 3), word(40 + k)), None, None));
        queries.push(("japanese", ["会議", "東京", "確認", "京都", "再起動"][k % 5].to_owned(), None, None));
        let filter = if k % 2 == 0 { (Some("room-7"), None) } else { (None, Some(format!("user{}", k * 11))) };
        queries.push(("in a room / by an author", word(k + 10), filter.0, filter.1));
    }
    let mut all = Vec::new();
    let mut by_kind: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    let mut results = 0;
    for (kind, q, room, author) in &queries {
        let request = SearchRequest {
            room: room.map(|r| RoomName::parse(r).unwrap()),
            author: author.clone(),
            ..SearchRequest::new(q, Some(AccountId(1)), 50).unwrap()
        };
        let started = Instant::now();
        let found = store.search(&request).await.unwrap();
        let shown: usize = found.iter().map(|f| snippet(&f.body, q).len()).sum();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        results += found.len();
        std::hint::black_box(shown);
        all.push(ms);
        by_kind.entry(kind).or_default().push(ms);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "100 queries: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({results} results)",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all[all.len() - 1]
    );
    for (kind, mut times) in by_kind {
        times.sort_by(f64::total_cmp);
        println!("  {kind:<26} p50 {:>7.1} ms   max {:>7.1} ms", percentile(&times, 0.5), times[times.len() - 1]);
    }
    writer.close().await;
}
