//! Seeded synthetic text of an exact token count, for prompt classes that
//! ask for "a prompt of N tokens" rather than a fixed text.

use super::Tokenizer;

/// Common English words, each a single token (with its leading space) in
/// both `o200k_base` and `cl100k_base`, so the text grows almost exactly one
/// token per word and the final adjustment is short.
const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "time",
    "people",
    "year",
    "way",
    "day",
    "man",
    "thing",
    "life",
    "world",
    "school",
    "state",
    "family",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "name",
    "team",
    "minute",
    "idea",
    "body",
    "information",
    "back",
    "face",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
];

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014; constants from Vigna's reference
/// implementation). Written out here so the synthesized prompts — and with
/// them the workload digest — never change when a dependency's RNG does.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn word(&mut self) -> &'static str {
        // Modulo bias over 2^64 is negligible for a list this short.
        WORDS[(self.next_u64() % WORDS.len() as u64) as usize]
    }
}

/// Words joined by single spaces; kept as a list so words can be dropped
/// from the end cheaply.
struct Draft {
    words: Vec<&'static str>,
    text: String,
}

impl Draft {
    fn push(&mut self, w: &'static str) {
        if !self.words.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(w);
        self.words.push(w);
    }

    fn pop(&mut self) {
        if let Some(w) = self.words.pop() {
            let cut = self.text.len() - w.len() - usize::from(!self.words.is_empty());
            self.text.truncate(cut);
        }
    }
}

impl Tokenizer {
    /// Seeded text of exactly `n` tokens when the tokenizer allows it (it
    /// does for the embedded encodings; a HuggingFace tokenizer whose
    /// vocabulary merges across spaces may end one token short). The same
    /// `(n, seed)` and tokenizer always give the same text.
    pub fn synthesize(&self, n: u32, seed: u64) -> String {
        let n = n as usize;
        let mut rng = SplitMix64(seed);
        let mut draft = Draft {
            words: Vec::with_capacity(n + 8),
            text: String::with_capacity(n * 8),
        };
        if n == 0 {
            return draft.text;
        }
        // Coarse: grow or shrink by the difference; each word is about one
        // token, so this converges in one or two rounds.
        let mut count = 0;
        for _ in 0..32 {
            count = self.count(&draft.text);
            if count.abs_diff(n) <= 2 {
                break;
            }
            if count < n {
                for _ in 0..(n - count) {
                    draft.push(rng.word());
                }
            } else {
                for _ in 0..(count - n).min(draft.words.len()) {
                    draft.pop();
                }
            }
        }
        // Fine: drop words until at or under `n`, then add single words that
        // keep the count at or under `n` until it is exact.
        while count > n && !draft.words.is_empty() {
            draft.pop();
            count = self.count(&draft.text);
        }
        'fill: while count < n {
            // Try words from a seeded starting point so the result stays
            // deterministic and varied.
            let start = (rng.next_u64() % WORDS.len() as u64) as usize;
            for i in 0..WORDS.len() {
                let w = WORDS[(start + i) % WORDS.len()];
                draft.push(w);
                let c = self.count(&draft.text);
                if c <= n && c > count {
                    count = c;
                    continue 'fill;
                }
                draft.pop();
            }
            // No single word fits: the closest text under `n` is the answer.
            break;
        }
        draft.text
    }
}
