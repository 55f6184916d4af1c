#![no_main]
//! The prompt framer never panics on any bytes, and cutting the bytes into chunks never
//! changes the replies: fed in arbitrary chunks, it frames what it frames from one push.

use libfuzzer_sys::fuzz_target;
use sockctl::haproxy::framing::{Flavor, Framed, Framer, PromptFramer};

/// Every reply, taking them as soon as they are complete; the payload prompts allowed before
/// each reply are `allowance`.
fn frame(flavor: Flavor, allowance: usize, chunks: &[&[u8]]) -> (Vec<Framed>, Vec<u8>) {
    let mut framer = PromptFramer::new(flavor);
    framer.expect_interim(allowance);
    let mut replies = Vec::new();
    for chunk in chunks {
        framer.push(chunk);
        while let Some(reply) = framer.next_reply() {
            replies.push(reply);
            framer.expect_interim(allowance);
        }
    }
    (replies, framer.pending().to_vec())
}

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, seed], stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    let flavor = if flags & 1 == 0 {
        Flavor::Stats
    } else {
        Flavor::Master
    };
    let allowance = usize::from(flags >> 1 & 3);
    // Chunk sizes from a small generator seeded by the input.
    let mut state = u32::from(seed) | 1;
    let mut chunks = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = (state as usize % 7 + 1).min(rest.len());
        chunks.push(&rest[..size]);
        rest = &rest[size..];
    }
    let whole = frame(flavor, allowance, &[stream]);
    let cut = frame(flavor, allowance, &chunks);
    assert_eq!(whole, cut);
    let framed: usize = whole
        .0
        .iter()
        .map(|r| r.payload_prompts * 2 + r.body.len() + r.prompt.raw.len())
        .sum();
    // Every byte is framed or pending, except `+ ` prompts already taken for a reply that has
    // not come yet.
    assert!(framed + whole.1.len() <= stream.len());
    assert!(framed + whole.1.len() + 2 * allowance >= stream.len());
});
