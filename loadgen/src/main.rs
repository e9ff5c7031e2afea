//! Load generator for the chat server. Speaks the chat protocol to a running
//! server and prints one JSON line per run (for scripts) and a summary (for people).
//!
//!   loadgen room  --addr A [--also B,C] [--stack chat|socketio|channels|bare] [--rooms 1] [--members 200] [--senders 10] [--rates 5,10,20] [--duration 5] [--p99-limit-ms 25]
//!   loadgen idle  --addr A [--stack …] [--connections 10000] [--rooms 100] [--server-pid PID] [--hold 0]
//!   loadgen storm --addr A [--clients 1000] [--missed 100]
//!   loadgen crowd --addr A [--members 10000] [--server-pid PID] [--settle 3] [--hold 0] [--messages 1] [--cookies FILE]
//!   loadgen pages --addr A [--messages 50] [--concurrency 16] [--duration 5] [--listed 0]
//!
//! `pages --listed N` asks for the room page signed in, as someone whose list
//! holds that room and N others (0: signed out).
//!
//! `room` runs each rate in turn (messages per second per sender) and stops after
//! two in a row whose p99 latency passes the limit. The server must allow the load:
//! start it with `--send-rate`, `--send-burst`, `--connections-per-ip` and
//! `--account-attempts` raised, and `--tcp-connections-per-ip 0` (every simulated
//! person comes from one address; see bench/run.sh).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use loadgen::RoomLoad;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first().cloned() else {
        eprintln!("usage: loadgen room|idle|storm --addr HOST:PORT [options]");
        return ExitCode::from(2);
    };
    let flags = match Flags::parse(&args[1..]) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match command.as_str() {
            "room" => room(&flags).await,
            "idle" => idle(&flags).await,
            "storm" => storm(&flags).await,
            "crowd" => crowd(&flags).await,
            "pages" => pages(&flags).await,
            other => Err(format!("unknown command `{other}`")),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let name = arg.strip_prefix("--").ok_or_else(|| format!("unexpected `{arg}`"))?;
            let value = args.next().ok_or_else(|| format!("--{name} needs a value"))?;
            pairs.push((name.to_owned(), value.clone()));
        }
        Ok(Flags(pairs))
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.0.iter().rev().find(|(n, _)| n == name) {
            Some((_, value)) => value.parse().map_err(|_| format!("--{name}: cannot read `{value}`")),
            None => Ok(default),
        }
    }

    fn addr(&self) -> Result<SocketAddr, String> {
        self.get("addr", "127.0.0.1:3000".parse().expect("a valid default"))
    }
}

fn tag() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:x}", now.as_millis() % 0xff_ffff_ffff)
}

async fn room(flags: &Flags) -> Result<(), String> {
    let rates: String = flags.get("rates", "10".to_owned())?;
    let limit = Duration::from_secs_f64(flags.get("p99-limit-ms", 25.0)? / 1000.0);
    let base = RoomLoad {
        stack: flags.get("stack", loadgen::Stack::Chat)?,
        addr: flags.addr()?,
        also: flags
            .get("also", String::new())?
            .split(',')
            .filter(|a| !a.trim().is_empty())
            .map(|a| a.trim().parse().map_err(|_| format!("--also: `{a}` is not an address")))
            .collect::<Result<_, _>>()?,
        rooms: flags.get("rooms", 1)?,
        members: flags.get("members", 200)?,
        senders: flags.get("senders", 10)?,
        rate: 0.0,
        duration: Duration::from_secs_f64(flags.get("duration", 5.0)?),
        drain: Duration::from_secs_f64(flags.get("drain", 1.0)?),
        tag: String::new(),
    };
    let mut over = 0;
    for rate in rates.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let rate: f64 = rate.parse().map_err(|_| format!("--rates: cannot read `{rate}`"))?;
        let load = RoomLoad { rate, tag: tag(), ..base.clone() };
        let report = loadgen::room_load(&load).await.map_err(|e| e.to_string())?;
        let offered = load.rate * (load.senders * load.rooms) as f64 * load.members as f64;
        println!(
            "{}",
            serde_json::json!({
                "scenario": "room", "rooms": load.rooms, "members": load.members, "senders": load.senders,
                "rate_per_sender": rate, "offered_deliveries_per_sec": offered,
                "sent": report.sent, "refused": report.refused,
                "deliveries": report.deliveries, "expected": report.expected,
                "stack": format!("{:?}", load.stack).to_lowercase(),
                "lost": report.lost, "duplicated": report.duplicated, "seq_gaps": report.seq_gaps,
                "deliveries_per_sec": report.deliveries_per_sec.round(),
                "p50_ms": ms(report.latency.p50), "p99_ms": ms(report.latency.p99), "max_ms": ms(report.latency.max),
                "connect_s": report.connect.as_secs_f64(),
            })
        );
        eprintln!(
            "room: {} rooms x {} members, {} senders x {rate}/s: {:.0} deliveries/s (offered {offered:.0}), \
             p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; lost {}, duplicated {}, refused {}",
            load.rooms,
            load.members,
            load.senders * load.rooms,
            report.deliveries_per_sec,
            ms(report.latency.p50),
            ms(report.latency.p99),
            ms(report.latency.max),
            report.lost,
            report.duplicated,
            report.refused,
        );
        // One step over the limit may be a hiccup of a shared machine; two in a
        // row is the limit.
        if report.latency.p99 > limit {
            over += 1;
            if over >= 2 {
                break;
            }
        } else {
            over = 0;
        }
    }
    Ok(())
}

async fn idle(flags: &Flags) -> Result<(), String> {
    let connections = flags.get("connections", 10_000)?;
    let rooms = flags.get("rooms", 100)?;
    let pid: u32 = flags.get("server-pid", 0)?;
    let stack = flags.get("stack", loadgen::Stack::Chat)?;
    let (report, sockets) = loadgen::idle(stack, flags.addr()?, connections, rooms, (pid != 0).then_some(pid), &tag())
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "idle", "stack": format!("{stack:?}").to_lowercase(), "connections": report.connections, "rooms": rooms,
            "connect_s": report.connect.as_secs_f64(),
            "connects_per_sec": (report.connections as f64 / report.connect.as_secs_f64()).round(),
            "rss_before_bytes": report.rss_before, "rss_after_bytes": report.rss_after,
            "bytes_per_connection": report.bytes_per_connection().round(),
        })
    );
    eprintln!(
        "idle: {} connections in {:.2} s; server RSS {:.1} MiB -> {:.1} MiB, {:.2} KiB per connection",
        report.connections,
        report.connect.as_secs_f64(),
        report.rss_before as f64 / 1048576.0,
        report.rss_after as f64 / 1048576.0,
        report.bytes_per_connection() / 1024.0,
    );
    let hold: f64 = flags.get("hold", 0.0)?;
    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    drop(sockets);
    // Everyone leaves: does the server give the memory back?
    if pid != 0 && report.rss_before > 0 {
        // The server sees the closes a moment after: wait for its RSS to stop falling.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(left) = loadgen::settled_rss(pid, Duration::from_secs(15)).await {
            let over = (left as f64 / report.rss_before as f64 - 1.0) * 100.0;
            println!(
                "{}",
                serde_json::json!({
                    "scenario": "idle_left", "stack": format!("{stack:?}").to_lowercase(),
                    "connections": report.connections, "rss_before_bytes": report.rss_before,
                    "rss_peak_bytes": report.rss_after, "rss_left_bytes": left, "left_over_start_pct": over.round(),
                })
            );
            eprintln!(
                "idle: after all {} left, server RSS {:.1} MiB ({over:+.0}% of the {:.1} MiB before they came)",
                report.connections,
                left as f64 / 1048576.0,
                report.rss_before as f64 / 1048576.0,
            );
        }
    }
    Ok(())
}

async fn crowd(flags: &Flags) -> Result<(), String> {
    let members = flags.get("members", 10_000)?;
    let pid: u32 = flags.get("server-pid", 0)?;
    let settle = Duration::from_secs_f64(flags.get("settle", 3.0)?);
    let hold = Duration::from_secs_f64(flags.get("hold", 0.0)?);
    let messages: usize = flags.get("messages", 1)?;
    let cookies: String = flags.get("cookies", String::new())?;
    let crowd = loadgen::Crowd {
        addr: flags.addr()?,
        members,
        server_pid: (pid != 0).then_some(pid),
        settle,
        hold,
        messages: messages.max(1),
        cookies: (!cookies.is_empty()).then(|| cookies.into()),
        tag: tag(),
    };
    let report = loadgen::crowd(&crowd).await.map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "crowd", "members": report.members, "messages": report.messages, "sign_up_s": report.sign_up.as_secs_f64(),
            "join_s": report.join.as_secs_f64(), "rss_start_bytes": report.rss_start,
            "rss_joined_bytes": report.rss_joined, "rss_left_bytes": report.rss_left,
            "bytes_per_member": report.bytes_per_member().round(), "delivered": report.delivered,
            "delivery_p50_ms": ms(report.delivery.p50), "delivery_p99_ms": ms(report.delivery.p99),
            "delivery_max_ms": ms(report.delivery.max), "unclean_closes": report.unclean_closes,
        })
    );
    let mib = |b: u64| b as f64 / 1048576.0;
    eprintln!(
        "crowd: {} signed-in members joined one room in {:.2} s; server RSS {:.1} -> {:.1} MiB ({:.2} KiB each), {:.1} MiB after they left; {} message(s), {} deliveries, p50 {:.1} ms, p99 {:.1} ms, last {:.1} ms",
        report.members, report.join.as_secs_f64(), mib(report.rss_start), mib(report.rss_joined),
        report.bytes_per_member() / 1024.0, mib(report.rss_left), report.messages, report.delivered,
        ms(report.delivery.p50), ms(report.delivery.p99), ms(report.delivery.max),
    );
    Ok(())
}

async fn storm(flags: &Flags) -> Result<(), String> {
    let report =
        loadgen::reconnect_storm(flags.addr()?, flags.get("clients", 1000)?, flags.get("missed", 100)?, &tag())
            .await
            .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "storm", "clients": report.clients, "missed_each": report.missed_each,
            "caught_up_s": report.caught_up.as_secs_f64(), "lost": report.lost, "duplicated": report.duplicated,
        })
    );
    eprintln!(
        "storm: {} clients missed {} messages each and resumed at once: all caught up in {:.3} s; lost {}, duplicated {}",
        report.clients, report.missed_each, report.caught_up.as_secs_f64(), report.lost, report.duplicated
    );
    Ok(())
}

async fn pages(flags: &Flags) -> Result<(), String> {
    let addr = flags.addr()?;
    let tag = tag();
    let room = format!("render-{tag}");
    let messages: u64 = flags.get("messages", 50)?;
    loadgen::seed_room(addr, &room, messages, &tag).await.map_err(|e| e.to_string())?;
    let listed: usize = flags.get("listed", 0)?;
    let cookie = if listed > 0 {
        let rooms: Vec<String> =
            std::iter::once(room.clone()).chain((1..=listed).map(|n| format!("listed-{tag}-{n}"))).collect();
        Some(loadgen::listed_reader(addr, &tag, &rooms).await.map_err(|e| e.to_string())?)
    } else {
        None
    };
    let concurrency = flags.get("concurrency", 16)?;
    let duration = Duration::from_secs_f64(flags.get("duration", 5.0)?);
    let report = loadgen::pages(addr, &format!("/chat/{room}/"), cookie.as_deref(), concurrency, duration).await;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "pages", "messages": messages, "listed": listed, "concurrency": concurrency,
            "requests": report.requests, "failed": report.failed, "per_sec": report.per_sec.round(),
            "p50_ms": ms(report.latency.p50), "p99_ms": ms(report.latency.p99),
        })
    );
    eprintln!(
        "pages: room page with {messages} messages, {concurrency} at once: {:.0} pages/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
        report.per_sec, ms(report.latency.p50), ms(report.latency.p99), report.failed
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}
