//! Presence here and across processes, without a bus or a server.

use super::*;

fn person(username: &str, away: bool) -> Person {
    Person { username: username.into(), display_name: username.to_uppercase(), away }
}

fn add(presence: &mut Presence, username: &str) -> (u32, Vec<Person>) {
    let display = username.to_uppercase();
    presence.add(Some((username, &display)))
}

/// The usernames of every page, walked from the first.
fn every_page(presence: &Presence) -> Vec<String> {
    let (mut seen, mut after) = (Vec::new(), None::<String>);
    loop {
        let (page, next) = presence.page(after.as_deref());
        seen.extend(page.into_iter().map(|p| p.username));
        match next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
}

fn presence_msg(people: Vec<Person>, left: Vec<&str>, online: u32) -> ServerMsg {
    ServerMsg::Presence { online, people, left: left.into_iter().map(Into::into).collect(), all: false }
}

#[test]
fn each_person_counts_once_whatever_their_tabs() {
    let mut presence = Presence::default();
    add(&mut presence, "ada");
    let (online, page) = add(&mut presence, "ada");
    presence.add(None);
    assert_eq!(online, 1);
    assert_eq!(page, vec![person("ada", false)]);
    assert_eq!(presence.connections(), 3);
    assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", false)], vec![], 1)));
    assert_eq!(presence.notice(), None, "nothing changed since");

    // One tab closing is not leaving; the last one is.
    presence.remove(Some("ada"), false);
    assert_eq!(presence.notice(), None);
    presence.remove(Some("ada"), false);
    assert_eq!(presence.notice(), Some(presence_msg(vec![], vec!["ada"], 0)));
    presence.remove(None, false);
    assert!(presence.is_empty());
}

#[test]
fn away_only_when_every_tab_is() {
    let mut presence = Presence::default();
    add(&mut presence, "ada");
    add(&mut presence, "ada");
    presence.notice();
    presence.set_away("ada", true);
    assert_eq!(presence.notice(), None, "one tab of two is still here");
    presence.set_away("ada", true);
    assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", true)], vec![], 1)));
    // Closing an away tab leaves an away tab: still away, no change.
    presence.remove(Some("ada"), true);
    assert_eq!(presence.notice(), None);
    // A new tab brings her back.
    add(&mut presence, "ada");
    assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", false)], vec![], 1)));
    // Her away tab closes: still here.
    presence.remove(Some("ada"), true);
    assert_eq!(presence.notice(), None);
}

#[test]
fn changes_between_notices_fold_into_one() {
    let mut presence = Presence::default();
    add(&mut presence, "bob");
    presence.notice();
    add(&mut presence, "ada");
    add(&mut presence, "cy");
    presence.remove(Some("cy"), false);
    presence.remove(Some("bob"), false);
    assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", false)], vec!["bob", "cy"], 1)));
}

#[test]
fn a_crowded_room_is_counted_and_paged_not_listed() {
    let mut presence = Presence::default();
    let names: Vec<String> = (0..LISTED_UP_TO + 20).map(|i| format!("p{i:04}")).collect();
    for (i, name) in names.iter().enumerate() {
        let (_, welcome) = add(&mut presence, name);
        let expected = if i < LISTED_UP_TO { i + 1 } else { 0 };
        assert_eq!(welcome.len(), expected, "everyone while listed, nobody after");
    }
    let online = names.len() as u32;
    assert_eq!(presence.notice(), Some(ServerMsg::Presence { online, people: vec![], left: vec![], all: false }));

    // Paging walks everyone once, in order.
    assert_eq!(every_page(&presence), names);

    // Shrinking back under the limit sends the whole list once.
    for name in &names[..25] {
        presence.remove(Some(name), false);
    }
    let Some(ServerMsg::Presence { online, people, all: true, .. }) = presence.notice() else {
        panic!("expected the whole list")
    };
    assert_eq!(online as usize, names.len() - 25);
    assert_eq!(people.len(), names.len() - 25);
    presence.remove(Some(&names[30]), false);
    assert_eq!(presence.notice(), Some(presence_msg(vec![], vec![&names[30]], online - 1)));
}

fn report(node: u64, (prev, v): (u64, u64), set: &[(&str, bool)], gone: &[&str]) -> Report {
    Report {
        node,
        v,
        prev,
        full: false,
        set: set.iter().map(|(name, away)| (name.to_string(), name.to_uppercase(), *away)).collect(),
        gone: gone.iter().map(|name| name.to_string()).collect(),
        readers: 0,
    }
}

#[test]
fn people_on_other_processes_join_the_union_each_once() {
    let mut presence = Presence::reported();
    add(&mut presence, "ada");
    presence.notice();
    // Another process has Ada (another tab) and Bob.
    let first = Report { full: true, ..report(7, (0, 1), &[("ada", true), ("bob", false)], &[]) };
    assert_eq!(presence.heard(first), Heard::Applied);
    assert_eq!(presence.online(), 2, "Ada counts once");
    assert_eq!(presence.notice(), Some(presence_msg(vec![person("bob", false)], vec![], 2)));
    assert_eq!(presence.page(None).0, vec![person("ada", false), person("bob", false)]);
    // Ada's tab here goes away too: away everywhere now.
    presence.set_away("ada", true);
    assert_eq!(presence.notice(), Some(presence_msg(vec![person("ada", true)], vec![], 2)));
    // Bob leaves there; Ada's tab there closes: she is still here (away).
    assert_eq!(presence.heard(report(7, (1, 2), &[], &["bob", "ada"])), Heard::Applied);
    assert_eq!(presence.notice(), Some(presence_msg(vec![], vec!["bob"], 1)));
    // A late repeat is dropped; a report after a lost one asks for the whole.
    assert_eq!(presence.heard(report(7, (0, 1), &[("bob", false)], &[])), Heard::Stale);
    assert_eq!(presence.heard(report(7, (3, 4), &[("cy", false)], &[])), Heard::Resync);
    assert_eq!(presence.heard(report(8, (5, 6), &[("cy", false)], &[])), Heard::Resync, "unknown process");
    assert_eq!(presence.notice(), None);
    // The whole, read again, replaces what that process had.
    let whole = Report { full: true, ..report(7, (0, 4), &[("cy", false), ("dee", false)], &[]) };
    assert_eq!(presence.heard(whole), Heard::Applied);
    assert_eq!(presence.online(), 3);
    // The process ends: its people go, the ones here stay.
    presence.forget(7);
    assert_eq!(presence.notice(), Some(presence_msg(vec![], vec!["cy", "dee"], 1)));
    assert!(presence.nodes().is_empty());
}

#[test]
fn only_changes_here_are_reported() {
    let mut presence = Presence::reported();
    add(&mut presence, "ada");
    add(&mut presence, "ada");
    presence.add(None);
    assert_eq!(presence.take_report(false), Some((vec![("ada".into(), "ADA".into(), false)], vec![], 1)));
    assert_eq!(presence.take_report(false), None, "nothing since");
    // What others say is not reported back.
    presence.heard(Report { full: true, ..report(9, (0, 1), &[("bob", false)], &[]) });
    assert_eq!(presence.take_report(false), None);
    // One tab of two closing changes nothing; the last one does.
    presence.remove(Some("ada"), false);
    assert_eq!(presence.take_report(false), None);
    presence.remove(Some("ada"), false);
    assert_eq!(presence.take_report(false), Some((vec![], vec!["ada".into()], 1)));
    add(&mut presence, "cy");
    assert_eq!(presence.take_report(true), Some((vec![("cy".into(), "CY".into(), false)], vec![], 1)));
    // A room without a bus keeps no report.
    let mut alone = Presence::default();
    add(&mut alone, "ada");
    assert_eq!(alone.take_report(true), None);
}

#[test]
fn a_crowd_spread_over_processes_is_counted_once_and_paged_in_order() {
    let mut presence = Presence::reported();
    let names: Vec<String> = (0..LISTED_UP_TO + 40).map(|i| format!("p{i:04}")).collect();
    // Evens here, odds on process 1, every tenth on both.
    let mut there = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i % 2 == 0 {
            add(&mut presence, name);
        }
        if i % 2 == 1 || i % 10 == 0 {
            there.push((name.as_str(), false));
        }
    }
    presence.heard(Report { full: true, ..report(1, (0, 1), &there, &[]) });
    assert_eq!(presence.online() as usize, names.len());
    assert_eq!(every_page(&presence), names);
    assert_eq!(presence.headcount(), names.len());
}
