//! Loading a tokenizer and counting tokens.

use std::path::PathBuf;
use std::sync::OnceLock;

/// Which tokenizer to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSpec {
    /// A tiktoken encoding embedded in the binary: `o200k_base` or `cl100k_base`.
    Embedded(String),
    /// A HuggingFace `tokenizer.json` on disk.
    HfFile(PathBuf),
}

/// Why a tokenizer could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("unknown embedded tokenizer {name:?}: expected \"o200k_base\" or \"cl100k_base\"")]
    UnknownEmbedded { name: String },
    #[error("cannot read tokenizer file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[cfg(feature = "hf-tokenizer")]
    #[error("tokenizer file {} is not a valid HuggingFace tokenizer.json", path.display())]
    HfParse {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "tokenizer file {} needs the `hf-tokenizer` cargo feature, which this build lacks; \
         rebuild with `--features hf-tokenizer` or use an embedded tokenizer (o200k_base, cl100k_base)",
        path.display()
    )]
    HfDisabled { path: PathBuf },
}

enum Backend {
    /// An embedded encoding, built on first use into its process-wide
    /// slot by the function beside it.
    Bpe(
        &'static EmbeddedSlot,
        fn() -> anyhow::Result<tiktoken_rs::CoreBPE>,
    ),
    #[cfg(feature = "hf-tokenizer")]
    Hf(Box<tokenizers::Tokenizer>),
}

/// Where an embedded encoding lives once built: one per encoding and
/// process, shared by every [`Tokenizer`] of it (plans built again —
/// `--repeat`, `ab`, `sweep`, tests — build it once) and never dropped, so
/// the process does not spend tens of ms freeing its 200,000 entries on
/// the way out.
type EmbeddedSlot = OnceLock<tiktoken_rs::CoreBPE>;
static O200K_BASE: EmbeddedSlot = OnceLock::new();
static CL100K_BASE: EmbeddedSlot = OnceLock::new();

/// A tokenizer. Cheap to share behind an `Arc`; counting takes `&self`.
///
/// An embedded encoding is built on first use (the first `count` or
/// `synthesize` in the process), not by [`Tokenizer::load`]: building
/// takes 100–400 ms of CPU, and a run whose prompts are fixed and whose
/// server reports `usage` only needs it for the bundle's workload digest,
/// after the measurement window. A HuggingFace file is read and parsed at
/// once, so a bad file is a configuration error before anything is sent.
pub struct Tokenizer {
    name: String,
    backend: Backend,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Load a tokenizer: an embedded encoding is checked by name here and
    /// built on first use; a HuggingFace file is read and parsed now.
    pub fn load(spec: &TokenizerSpec) -> Result<Tokenizer, TokenizerError> {
        match spec {
            TokenizerSpec::Embedded(name) => {
                let backend = match name.as_str() {
                    "o200k_base" => Backend::Bpe(&O200K_BASE, tiktoken_rs::o200k_base),
                    "cl100k_base" => Backend::Bpe(&CL100K_BASE, tiktoken_rs::cl100k_base),
                    _ => return Err(TokenizerError::UnknownEmbedded { name: name.clone() }),
                };
                Ok(Tokenizer {
                    name: name.clone(),
                    backend,
                })
            }
            TokenizerSpec::HfFile(path) => load_hf(path),
        }
    }

    /// Whether the encoding has been built (an embedded one is built on
    /// first use).
    pub fn is_built(&self) -> bool {
        match &self.backend {
            Backend::Bpe(slot, _) => slot.get().is_some(),
            #[cfg(feature = "hf-tokenizer")]
            Backend::Hf(_) => true,
        }
    }

    /// `o200k_base`, `cl100k_base` or `hf:<file name>`; recorded in the
    /// bundle key, so two runs are only comparable with the same tokenizer.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of tokens in `text`. Special-token markers such as
    /// `<|endoftext|>` are counted as ordinary text, because generated text
    /// and prompts are data, not control sequences.
    pub fn count(&self, text: &str) -> usize {
        match &self.backend {
            Backend::Bpe(slot, build) => slot
                .get_or_init(|| build().expect("the embedded tiktoken data is valid"))
                .encode_ordinary(text)
                .len(),
            #[cfg(feature = "hf-tokenizer")]
            Backend::Hf(tok) => match tok.encode_fast(text, false) {
                Ok(enc) => enc.len(),
                // Encoding only fails for truncation/padding settings that
                // cannot be met; a whitespace word count is the closest
                // honest answer then.
                Err(_) => text.split_whitespace().count(),
            },
        }
    }
}

#[cfg(feature = "hf-tokenizer")]
fn load_hf(path: &std::path::Path) -> Result<Tokenizer, TokenizerError> {
    let bytes =
        crate::fsutil::read_bounded(path, crate::fsutil::MAX_DATA_BYTES).map_err(|source| {
            TokenizerError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let tok =
        tokenizers::Tokenizer::from_bytes(&bytes).map_err(|source| TokenizerError::HfParse {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(Tokenizer {
        name: hf_name(path, &bytes),
        backend: Backend::Hf(Box::new(tok)),
    })
}

#[cfg(not(feature = "hf-tokenizer"))]
fn load_hf(path: &std::path::Path) -> Result<Tokenizer, TokenizerError> {
    Err(TokenizerError::HfDisabled {
        path: path.to_path_buf(),
    })
}

/// `hf:<file name>@<12 hex digits of the file's SHA-256>`. Nearly every
/// HuggingFace tokenizer file is called `tokenizer.json`, so the name alone
/// would make two different tokenizers look comparable; the digest prefix
/// tells them apart.
#[cfg(feature = "hf-tokenizer")]
fn hf_name(path: &std::path::Path, bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let digest = sha2::Sha256::digest(bytes);
    let mut name = format!("hf:{file}@");
    for b in &digest[..6] {
        // Writing to a String cannot fail.
        let _ = write!(name, "{b:02x}");
    }
    name
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::{Arc, OnceLock};

    /// Building an embedded encoding is slow in debug builds: share one per
    /// test binary.
    pub(crate) fn o200k() -> Arc<Tokenizer> {
        static TOK: OnceLock<Arc<Tokenizer>> = OnceLock::new();
        TOK.get_or_init(|| {
            Arc::new(
                Tokenizer::load(&TokenizerSpec::Embedded("o200k_base".into()))
                    .expect("o200k_base is embedded"),
            )
        })
        .clone()
    }

    pub(crate) fn cl100k() -> Arc<Tokenizer> {
        static TOK: OnceLock<Arc<Tokenizer>> = OnceLock::new();
        TOK.get_or_init(|| {
            Arc::new(
                Tokenizer::load(&TokenizerSpec::Embedded("cl100k_base".into()))
                    .expect("cl100k_base is embedded"),
            )
        })
        .clone()
    }

    #[test]
    fn counts_fixed_strings_with_o200k() {
        let t = o200k();
        assert_eq!(t.name(), "o200k_base");
        assert_eq!(t.count(""), 0);
        // "hello world" is [24912, 2375] in o200k_base.
        assert_eq!(t.count("hello world"), 2);
        // "Hello", ",", " world", "!"
        assert_eq!(t.count("Hello, world!"), 4);
        // Special-token markers are counted as plain text (several tokens).
        assert!(t.count("<|endoftext|>") > 1);
    }

    #[test]
    fn counts_fixed_strings_with_cl100k() {
        let t = cl100k();
        assert_eq!(t.name(), "cl100k_base");
        // "hello world" is [15339, 1917] in cl100k_base.
        assert_eq!(t.count("hello world"), 2);
        assert_eq!(t.count("Hello, world!"), 4);
        assert_eq!(t.count(" the the the"), 3);
    }

    #[test]
    fn unknown_embedded_name_is_an_error_naming_the_choices() {
        let err = Tokenizer::load(&TokenizerSpec::Embedded("gpt2".into())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("\"gpt2\"") && msg.contains("o200k_base"),
            "{msg}"
        );
    }

    #[test]
    fn synthesize_gives_exact_counts_with_both_encodings() {
        for t in [o200k(), cl100k()] {
            for n in [0u32, 1, 2, 7, 64, 333, 1024] {
                let text = t.synthesize(n, 42);
                assert_eq!(t.count(&text), n as usize, "{} n={n}", t.name());
            }
        }
    }

    #[test]
    fn synthesize_is_deterministic_per_seed() {
        let t = o200k();
        let a = t.synthesize(200, 7);
        assert_eq!(a, t.synthesize(200, 7));
        let b = t.synthesize(200, 8);
        assert_ne!(a, b);
        assert_eq!(t.count(&b), 200);
    }

    #[cfg(feature = "hf-tokenizer")]
    fn write_word_level(dir: &std::path::Path) -> PathBuf {
        // A tiny WordLevel model split on whitespace: every word is a token,
        // unknown words map to [UNK].
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": [],
            "normalizer": null,
            "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null,
            "decoder": null,
            "model": {
                "type": "WordLevel",
                "vocab": {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5},
                "unk_token": "[UNK]"
            }
        });
        let path = dir.join("tokenizer.json");
        std::fs::write(&path, json.to_string()).expect("write temp tokenizer.json");
        path
    }

    #[cfg(feature = "hf-tokenizer")]
    #[test]
    fn loads_a_huggingface_tokenizer_json() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_word_level(dir.path());
        let t = Tokenizer::load(&TokenizerSpec::HfFile(path)).expect("valid tokenizer.json");
        assert!(t.name().starts_with("hf:tokenizer.json@"), "{}", t.name());
        assert_eq!(t.name().len(), "hf:tokenizer.json@".len() + 12);
        assert_eq!(t.count("the cat sat on the mat"), 6);
        // Unknown words still count as one token each; punctuation is split.
        assert_eq!(t.count("the dog, sat"), 4);
        let text = t.synthesize(50, 1);
        assert_eq!(t.count(&text), 50);
    }

    #[test]
    fn missing_or_invalid_hf_file_names_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope.json");
        let err = Tokenizer::load(&TokenizerSpec::HfFile(missing)).unwrap_err();
        assert!(err.to_string().contains("nope.json"), "{err}");
        if cfg!(not(feature = "hf-tokenizer")) {
            assert!(err.to_string().contains("hf-tokenizer"), "{err}");
        }
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"model\": 3}").expect("write");
        let err = Tokenizer::load(&TokenizerSpec::HfFile(bad)).unwrap_err();
        assert!(err.to_string().contains("bad.json"), "{err}");
    }
}
