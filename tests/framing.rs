//! The prompt framer over real HAProxy 2.6 and 3.4 bytes: every way of cutting the stream into
//! chunks frames the same replies, and a framed reply is what a non-interactive connection
//! returns.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sockctl::haproxy::framing::{Flavor, Framer, PromptFramer, Target, noninteractive};

/// One recorded step: what was sent, what came back.
#[derive(Clone, Debug)]
struct Step {
    request: Vec<u8>,
    reply: Vec<u8>,
}

fn fixture_dir(version: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/prompt")
        .join(version)
        .join(name)
}

fn steps(version: &str, name: &str) -> Vec<Step> {
    let dir = fixture_dir(version, name);
    let mut steps = Vec::new();
    for n in 1.. {
        let Ok(reply) = std::fs::read(dir.join(format!("{n:02}.rep"))) else {
            break;
        };
        let request = std::fs::read(dir.join(format!("{n:02}.req"))).unwrap();
        steps.push(Step { request, reply });
    }
    assert!(!steps.is_empty(), "no fixture in {}", dir.display());
    steps
}

fn flavor_of(name: &str) -> Flavor {
    if name.contains("master") {
        Flavor::Master
    } else {
        Flavor::Stats
    }
}

/// A reply as the test expects it, worked out without the framer: each fixture step that ends
/// with a prompt is one reply (a step answered only by `+ ` payload prompts joins the next),
/// and its prompt is what follows the last newline.
#[derive(Clone, Debug, PartialEq)]
struct Expected {
    payload_prompts: usize,
    body: Vec<u8>,
    prompt: Vec<u8>,
}

/// The replies a session's byte stream must be framed into, the payload prompts each may
/// start with, and the bytes that must stay unframed (replies ended by EOF, not a prompt).
fn oracle(steps: &[Step], flavor: Flavor) -> (Vec<Expected>, Vec<usize>, Vec<u8>) {
    let mut expected = Vec::new();
    let mut allowances = Vec::new();
    let mut pending_plus = 0;
    let mut payload_lines = 0;
    let mut rest = Vec::new();
    for step in steps {
        let lines = step.request.split(|&b| b == b'\n').count() - 1;
        if step.request.windows(3).any(|w| w == b"<<\n") || pending_plus > 0 {
            payload_lines += lines;
        }
        let mut reply = &step.reply[..];
        let mut plus = 0;
        while payload_lines > 0 && reply.starts_with(b"+ ") {
            reply = &reply[2..];
            plus += 1;
        }
        if reply.is_empty() && plus > 0 {
            pending_plus += plus;
            continue;
        }
        let ends_with_prompt = reply.ends_with(b"> ");
        if !ends_with_prompt {
            rest.extend_from_slice(&step.reply);
            continue;
        }
        let split = match (flavor, reply.iter().rposition(|&b| b == b'\n')) {
            (_, Some(i)) => i + 1,
            (Flavor::Master, None) => 0,
            (Flavor::Stats, None) => panic!("stats reply without newline: {reply:?}"),
        };
        expected.push(Expected {
            payload_prompts: pending_plus + plus,
            body: reply[..split].to_vec(),
            prompt: reply[split..].to_vec(),
        });
        // One `+ ` per line read in payload mode, the final empty line excepted.
        allowances.push(payload_lines.saturating_sub(1));
        pending_plus = 0;
        payload_lines = 0;
    }
    (expected, allowances, rest)
}

/// Feeds `chunks` in order, taking every reply as soon as it is complete.
fn frame(flavor: Flavor, chunks: &[&[u8]], allowances: &[usize]) -> (Vec<Expected>, Vec<u8>) {
    let mut framer = PromptFramer::new(flavor);
    let mut out = Vec::new();
    framer.expect_interim(allowances.first().copied().unwrap_or(0));
    for chunk in chunks {
        framer.push(chunk);
        while let Some(r) = framer.next_reply() {
            out.push(Expected {
                payload_prompts: r.payload_prompts,
                body: r.body,
                prompt: r.prompt.raw,
            });
            framer.expect_interim(allowances.get(out.len()).copied().unwrap_or(0));
        }
    }
    (out, framer.pending().to_vec())
}

/// Every fixture session where each step gets exactly one reply.
const PROMPT_SESSIONS: &[(&str, &str)] = &[
    ("2.6", "prompt_stats"),
    ("2.6", "prompt_stats_errors"),
    ("2.6", "prompt_master"),
    ("2.6", "prompt_master_errors"),
    ("2.6", "prompt_master_errors_b"),
    ("2.6", "prompt_master_errors_c"),
    ("2.6", "dr_16_master_prompt_reload"),
    ("2.6", "payload_stats"),
    ("2.6", "payload_master"),
    ("3.4", "prompt_stats"),
    ("3.4", "prompt_stats_errors"),
    ("3.4", "prompt_master"),
    ("3.4", "prompt_master_errors"),
    ("3.4", "prompt_p_stats"),
    ("3.4", "prompt_p_master"),
    ("3.4", "prompt_timed_stats"),
    ("3.4", "prompt_timed_master"),
    ("3.4", "dr_16_master_prompt_reload"),
];

struct Session {
    name: String,
    flavor: Flavor,
    stream: Vec<u8>,
    expected: Vec<Expected>,
    allowances: Vec<usize>,
    rest: Vec<u8>,
}

fn sessions() -> Vec<Session> {
    PROMPT_SESSIONS
        .iter()
        .map(|&(version, name)| {
            let steps = steps(version, name);
            let flavor = flavor_of(name);
            let (expected, allowances, rest) = oracle(&steps, flavor);
            Session {
                name: format!("{version}/{name}"),
                flavor,
                stream: steps.iter().flat_map(|s| s.reply.clone()).collect(),
                expected,
                allowances,
                rest,
            }
        })
        .collect()
}

#[test]
fn whole_sessions_frame_into_their_steps() {
    let mut replies = 0;
    for s in sessions() {
        let (got, rest) = frame(s.flavor, &[&s.stream], &s.allowances);
        assert_eq!(got, s.expected, "{}", s.name);
        assert_eq!(rest, s.rest, "{}: unframed bytes", s.name);
        replies += got.len();
    }
    assert!(replies > 60, "{replies}");
}

#[test]
fn every_split_in_two_frames_the_same() {
    for s in sessions() {
        for cut in 0..=s.stream.len() {
            let (a, b) = s.stream.split_at(cut);
            let (got, rest) = frame(s.flavor, &[a, b], &s.allowances);
            assert!(
                got == s.expected && rest == s.rest,
                "{} cut at {cut}",
                s.name
            );
        }
    }
}

#[test]
fn one_byte_at_a_time_frames_the_same() {
    for s in sessions() {
        let chunks: Vec<&[u8]> = s.stream.chunks(1).collect();
        let (got, rest) = frame(s.flavor, &chunks, &s.allowances);
        assert_eq!(got, s.expected, "{}", s.name);
        assert_eq!(rest, s.rest, "{}", s.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any number of cuts anywhere.
    #[test]
    fn any_chunking_frames_the_same(
        which in 0..PROMPT_SESSIONS.len(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..40),
    ) {
        let s = &sessions()[which];
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(s.stream.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&s.stream[start..p]);
            start = p;
        }
        chunks.push(&s.stream[start..]);
        let (got, rest) = frame(s.flavor, &chunks, &s.allowances);
        prop_assert_eq!(got, s.expected.clone(), "{}", s.name);
        prop_assert_eq!(rest, s.rest.clone());
    }
}

/// Pipelined: `prompt\nshow version\nshow version\n` in one write gets three prompts.
#[test]
fn pipelined_commands_frame_one_reply_each() {
    for version in ["2.6", "3.4"] {
        let stream = &steps(version, "stats_two_cmds_newline_separated_prompt_first")[0].reply;
        let noprompt = &steps(version, "noprompt_stats_two_sends")[0].reply;
        for cut in 0..=stream.len() {
            let (got, rest) = frame(Flavor::Stats, &[&stream[..cut], &stream[cut..]], &[0, 0, 0]);
            let bodies: Vec<&[u8]> = got.iter().map(|e| &e.body[..]).collect();
            assert_eq!(bodies, [&b"\n"[..], noprompt, noprompt], "{version} {cut}");
            assert!(rest.is_empty());
        }
    }
}

/// 2.6 answers `a;b;c` with a prompt after each command, on both sockets.
#[test]
fn semicolons_get_a_prompt_each_on_2_6() {
    let stats = &steps("2.6", "semicolon_stats")[1].reply;
    let (got, _) = frame(Flavor::Stats, &[stats], &[]);
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].body, b"\n");
    let master = &steps("2.6", "semicolon_master")[1].reply;
    let (got, _) = frame(Flavor::Master, &[master], &[]);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
}

/// `prompt i` (3.2+) drops the prompt altogether: nothing marks the end of a reply, which is
/// why the session uses `prompt p`.
#[test]
fn prompt_i_leaves_nothing_to_frame_by() {
    for (name, flavor) in [
        ("prompt_i_stats", Flavor::Stats),
        ("prompt_i_master", Flavor::Master),
    ] {
        let stream: Vec<u8> = steps("3.4", name)
            .iter()
            .flat_map(|s| s.reply.clone())
            .collect();
        let (got, rest) = frame(flavor, &[&stream], &[]);
        assert!(got.is_empty(), "{name}: {got:?}");
        assert_eq!(rest, stream);
    }
}

/// A framed prompt-mode reply is byte for byte the non-interactive reply of the same command.
#[test]
fn framed_bodies_are_the_noninteractive_bytes() {
    let pairs = [
        ("stats_unknown_foo", "prompt_stats", 4),
        ("stats_set_server_bad", "prompt_stats_errors", 2),
        (
            "stats_show_servers_state_nosuchbe",
            "prompt_stats_errors",
            4,
        ),
        ("master_unknown_foo", "prompt_master", 7),
    ];
    for version in ["2.6", "3.4"] {
        for (plain, prompted, step) in pairs {
            let expected = &steps(version, plain)[0].reply;
            let reply = &steps(version, prompted)[step - 1].reply;
            let got = noninteractive(flavor_of(prompted), reply, 0).unwrap();
            assert_eq!(&got, expected, "{version} {prompted} step {step}");
        }
    }
    // The master's own errors: 3.4 keeps the connection and prompts after the single `\n`
    // line; 2.6 closes instead, with the same bytes.
    let expected = &steps("3.4", "master_at9_show_info")[0].reply;
    let reply = &steps("3.4", "prompt_master_errors")[1].reply;
    assert_eq!(&noninteractive(Flavor::Master, reply, 0).unwrap(), expected);
    assert_eq!(
        &steps("2.6", "prompt_master_errors")[1].reply,
        &steps("2.6", "master_at9_show_info")[0].reply
    );
    // Payload prompts are the other difference.
    let reply = &steps("2.6", "payload_master")[1].reply;
    assert_eq!(reply, b"+ + \nmaster> ");
    assert_eq!(noninteractive(Flavor::Master, reply, 2).unwrap(), b"\n");
}

#[test]
fn prompts_say_where_commands_go() {
    let stream: Vec<u8> = steps("2.6", "prompt_master")
        .iter()
        .flat_map(|s| s.reply.clone())
        .collect();
    let mut framer = PromptFramer::new(Flavor::Master);
    framer.push(&stream);
    let mut targets = Vec::new();
    while let Some(r) = framer.next_reply() {
        targets.push(r.prompt.target);
    }
    assert_eq!(targets[7], Target::Worker(7978));
    assert_eq!(targets[8], Target::Worker(7978));
    assert_eq!(targets[9], Target::Master);
}
