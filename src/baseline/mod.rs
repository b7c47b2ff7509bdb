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
//! * Each path part is a slug of the bundle field: characters outside
//!   `[A-Za-z0-9._-]` become `_`, a leading `.` becomes `_` (no hidden or
//!   `..` directories), an empty value becomes `unknown`, and a part longer
//!   than 80 characters is cut to 71 and suffixed with `-` and 8 hex digits of
//!   its sha256 so distinct long values stay distinct. `@` never occurs in a
//!   slug, so it separates model version and serving image unambiguously.
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
mod layout;
mod render;
mod store;
mod types;

pub use calibration::{
    CALIBRATION_FILE, CALIBRATION_MAX_BYTES, CALIBRATION_SCHEMA_VERSION, Calibration,
    CalibrationError, MetricNoise,
};
pub use compare::{DATE_WARN_DAYS, comparability, resolve, resolve_with_keep, tool_major};
pub use error::BaselineError;
pub use layout::{SLUG_MAX, set_dir_for, slugify};
pub use render::{find_set, render_explain, render_list, render_show};
pub use store::{DEFAULT_KEEP, load_sets, promote, promote_at};
pub use types::{
    BaselineSet, BaselineSource, Comparability, FieldDiff, Refusal, Resolution, StoredRun,
    WORKLOAD_SHAPE_FIELD,
};
