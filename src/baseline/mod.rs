//! Baselines: promoting result bundles into `baselines/`, reading them back
//! from a directory or from a git ref (git2, no checkout), and deciding which
//! stored set a candidate bundle may be compared with (the comparability
//! contract of DESIGN.md §5).
//!
//! # On-disk layout
//!
//! ```text
//! baselines/<workload_name>/<hardware_profile>/<tokenizer>/<model_version>@<serving_image>/<STAMP>-<DIGEST12>.json
//! ```
//!
//! * Each path part is injective on the exact bundle field: a value made
//!   only of `[A-Za-z0-9._-]`, not starting with `.` and at most 80
//!   characters is kept verbatim; any other value becomes a slug (others
//!   `_`, a leading `.` `_`, empty `unknown`, cut to fit) plus `~` and 12 hex
//!   digits of the sha256 of the exact value, so `gpu/A`, `gpu:A` and
//!   `gpu_A` are three directories. `~` and `@` never occur in a verbatim
//!   part, so a hashed part never equals a verbatim one and `@` separates
//!   model version and serving image unambiguously.
//! * Stores written before the names were injective (lossy slugs, no `~`)
//!   keep working: loading reads every directory, and the next promotion of
//!   a key moves that key's runs (checked inside each file) from the old
//!   directory into the new one. Pruning (`--keep`) counts and removes only
//!   files whose key and workload inside equal the promoted bundle's.
//! * One directory `<…>/<model_version>@<serving_image>/` is a **set**: the
//!   last k promoted runs (default [`DEFAULT_KEEP`]) of one key and workload.
//!   The gate pools the runs of one set.
//! * `STAMP` is the UTC promotion time, `YYYYMMDDTHHMMSS.mmmZ`; it orders
//!   runs (lexicographic order is time order) and is kept strictly increasing
//!   within a set, so "newest" never depends on file-system times — which a
//!   git tree does not have. `DIGEST12` is the first 12 hex digits of the
//!   sha256 of the file, which is the candidate bundle file copied byte for
//!   byte, so a stored run has the same digest as the bundle it came from.
//! * The key (and everything else) is inside the file too; the path is for
//!   humans. Loading groups `*.json` files by their parent directory, at any
//!   depth, and never skips a file it cannot parse: it fails naming the file.
//!   A file name without a stamp is a hand-placed run, ordered by its
//!   `started_at`; a stamp or `started_at` naming an impossible time
//!   (`20260231T…`, an offset of `+25:00`) is an error naming the file and
//!   the field, never read as a nearby day.
//!   Dot-files (e.g. temporary files of an interrupted atomic write) are ignored.
//! * `calibration.json` in a set directory is not a run: it is the set's
//!   measured run-to-run noise (`tokengate calibrate`), see [`Calibration`].

mod calibration;
mod compare;
mod error;
mod git;
mod history;
mod layout;
mod render;
mod store;
mod types;

pub use calibration::{
    CALIBRATION_FILE, CALIBRATION_MAX_BYTES, CALIBRATION_SCHEMA_VERSION, Calibration,
    CalibrationError, MetricNoise,
};
pub(crate) use compare::resolve_loaded;
pub use compare::{
    ComparePolicy, DATE_WARN_DAYS, comparability, comparability_with, resolve, resolve_with_keep,
    resolve_with_policy, tool_major,
};
pub use error::BaselineError;
pub use history::{HistoryRun, MAX_HISTORY_COMMITS, MAX_HISTORY_RUNS, SetHistory, set_history};
pub use layout::{SLUG_MAX, set_dir_for, slugify};
pub use render::{find_set, render_explain, render_list, render_show};
pub use store::{DEFAULT_KEEP, load_sets, promote, promote_at};
pub(crate) use store::{Loaded, load};
pub use types::{
    BaselineSet, BaselineSource, Comparability, FieldDiff, IMPORTED_FIELD, Refusal, Resolution,
    StoredRun, WORKLOAD_SHAPE_FIELD,
};
