//! The formats `tokengate import` reads, by name.

/// A tool's result file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// `vllm bench serve --save-result --save-detailed`: one JSON object
    /// with per-request columns (`ttfts`, `itls`, `latencies`, …).
    Vllm,
    /// guidellm's `benchmarks.json` (`guidellm run --output
    /// kind=json,path=…`): one benchmark with per-request statistics.
    Guidellm,
    /// AIPerf's `profile_export.jsonl` (`aiperf profile`): one record a
    /// line.
    Aiperf,
    /// k6's `--summary-export` file: aggregates only, no per-request values.
    K6,
}

impl ImportFormat {
    pub const ALL: [ImportFormat; 4] = [
        ImportFormat::Vllm,
        ImportFormat::Guidellm,
        ImportFormat::Aiperf,
        ImportFormat::K6,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Vllm => "vllm",
            ImportFormat::Guidellm => "guidellm",
            ImportFormat::Aiperf => "aiperf",
            ImportFormat::K6 => "k6",
        }
    }

    /// The tool recorded in `context.imported.tool`: the format's name.
    pub fn tool(self) -> &'static str {
        self.as_str()
    }

    /// What the file should be, for error messages.
    pub fn expected_file(self) -> &'static str {
        match self {
            ImportFormat::Vllm => {
                "the JSON file of `vllm bench serve --save-result --save-detailed`"
            }
            ImportFormat::Guidellm => {
                "guidellm's benchmarks.json (`guidellm run --output kind=json`)"
            }
            ImportFormat::Aiperf => "AIPerf's profile_export.jsonl (`aiperf profile`)",
            ImportFormat::K6 => "k6's summary (`k6 run --summary-export FILE`)",
        }
    }

    /// The workload name an imported bundle is stored under unless
    /// `--workload` names one.
    pub fn default_workload(self) -> &'static str {
        match self {
            ImportFormat::Vllm => "vllm-bench-serve",
            ImportFormat::Guidellm => "guidellm-run",
            ImportFormat::Aiperf => "aiperf-profile",
            ImportFormat::K6 => "k6-run",
        }
    }

    pub fn from_name(name: &str) -> Option<ImportFormat> {
        ImportFormat::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Every name, for the error of an unknown one.
    pub fn names() -> String {
        ImportFormat::ALL
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
