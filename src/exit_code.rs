//! Documented process exit codes. CI systems and scripts branch on these, so
//! they never change meaning.

/// Every rule passed (or only warned), or a command without a verdict succeeded.
pub const PASS: i32 = 0;
/// At least one `fail`-severity rule failed: a real regression.
pub const FAIL: i32 = 1;
/// The tool itself could not do its job: bad usage, bad configuration, an
/// unreadable file, an endpoint that cannot be reached at all. A broken tool
/// must never look like a regression, so this is distinct from [`FAIL`].
pub const TOOL_ERROR: i32 = 2;
/// The comparison was inconclusive and the gate's policy says that blocks.
pub const INCONCLUSIVE: i32 = 3;
/// The candidate run is invalid: the measurement itself is not to be
/// trusted (the client limited it, the open-loop rate missed its target,
/// output lengths differ from `max_tokens`, the window was cut), so no rule
/// was judged. Distinct from [`FAIL`] (a regression was shown), from
/// [`TOOL_ERROR`] (the tool could not run) and from [`INCONCLUSIVE`] (a
/// valid run without enough evidence): the fix is to rerun differently,
/// not to look at the server.
pub const INVALID: i32 = 4;
/// Interrupted by SIGINT/SIGTERM; the bundle was still written, marked incomplete.
pub const INTERRUPTED: i32 = 130;
