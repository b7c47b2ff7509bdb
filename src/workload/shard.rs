//! Shards: one seeded plan split over N load generators (`--shard I/N`),
//! each a separate `tokengate run` on its own machine, merged afterwards by
//! `tokengate merge`. The split changes who sends a request, never what is
//! sent or when, so the N shards together send the schedule one process
//! would:
//!
//! * request index i goes to shard (i mod N) + 1 — interleaved, not in
//!   contiguous blocks, so every shard sees the whole run's mix of prompts
//!   and its whole time span (a block split would put all of a
//!   duration-bound run's early indices on shard 1 and give the others
//!   nothing to send);
//! * open loop: the arrival times are those of the one-process schedule,
//!   and each shard keeps the arrivals of its own indices (rate R/N each);
//! * closed loop: the users are split, shard I gets ⌊U/N⌋ users plus one
//!   for I ≤ U mod N; N > U is refused (a shard without a user sends
//!   nothing);
//! * a duration-bound run is split by users or rate as above, each shard
//!   running for the whole duration.
//!
//! Shard numbers are 1-based everywhere a person reads them (`--shard 1/4`
//! … `4/4`, `context.shard.index`), as GitLab's `CI_NODE_INDEX` is;
//! Kubernetes' 0-based `JOB_COMPLETION_INDEX` is converted.

use std::fmt;

/// One shard of a run: `index` of `total`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    total: u32,
}

/// Most shards one run may be split into: the sample column `samples.shard`
/// is a u16, and a thousand load generators is far past any CI matrix.
pub const MAX_SHARDS: u32 = 1000;

/// Why a shard could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("{source_name}: expected I/N with 1 ≤ I ≤ N ≤ {MAX_SHARDS} (e.g. `2/4`), got `{text}`")]
    Form { source_name: String, text: String },
    #[error(
        "{source_name} is {text}: expected an integer from {low} to {high} for {total} shard(s)"
    )]
    Index {
        source_name: String,
        text: String,
        low: u32,
        high: u32,
        total: u32,
    },
    #[error(
        "--shard auto: no shard in the environment (set CI_NODE_INDEX and CI_NODE_TOTAL, as GitLab `parallel:` does, or JOB_COMPLETION_INDEX with --shard-total or TOKENGATE_SHARD_TOTAL, as a Kubernetes Indexed Job does)"
    )]
    NoEnvironment,
    #[error(
        "JOB_COMPLETION_INDEX is set but the number of shards is not: pass --shard-total N or set TOKENGATE_SHARD_TOTAL (the Job's `completions`)"
    )]
    NoTotal,
    #[error(
        "--shard {shard}: the closed loop has {users} user(s), fewer than the {total} shards; lower the shard count or raise `load.concurrency`"
    )]
    TooFewUsers {
        shard: Shard,
        users: u32,
        total: u32,
    },
}

impl Shard {
    /// Shard `index` (1-based) of `total`.
    pub fn new(index: u32, total: u32) -> Option<Shard> {
        (1..=MAX_SHARDS)
            .contains(&total)
            .then_some(())
            .filter(|_| (1..=total).contains(&index))
            .map(|_| Shard { index, total })
    }

    /// `I/N`; `source_name` names where the text came from in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Shard, ShardError> {
        let form = || ShardError::Form {
            source_name: source_name.to_owned(),
            text: text.chars().take(40).collect(),
        };
        let (i, n) = text.trim().split_once('/').ok_or_else(form)?;
        let i: u32 = i.trim().parse().map_err(|_| form())?;
        let n: u32 = n.trim().parse().map_err(|_| form())?;
        Shard::new(i, n).ok_or_else(form)
    }

    /// The shard from the environment (`--shard auto`). A Kubernetes
    /// Indexed Job (`JOB_COMPLETION_INDEX`, 0-based, the total from
    /// `total_flag` or `TOKENGATE_SHARD_TOTAL`) wins over GitLab's
    /// `CI_NODE_INDEX`/`CI_NODE_TOTAL` (1-based): a pod sets only its own
    /// variable, while a GitLab runner's executor may start pods that
    /// inherit `CI_NODE_*` from the job.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        total_flag: Option<u32>,
    ) -> Result<Shard, ShardError> {
        if let Some(k8s) = env("JOB_COMPLETION_INDEX") {
            let total = match total_flag {
                Some(n) => n,
                None => {
                    let text = env("TOKENGATE_SHARD_TOTAL").ok_or(ShardError::NoTotal)?;
                    parse_count(&text, "TOKENGATE_SHARD_TOTAL")?
                }
            };
            let total_ok = Shard::new(1, total).ok_or_else(|| ShardError::Form {
                source_name: "the number of shards".into(),
                text: format!("1/{total}"),
            })?;
            let index = parse_index(&k8s, "JOB_COMPLETION_INDEX", 0, total_ok.total - 1)?;
            return Ok(Shard {
                index: index + 1,
                total,
            });
        }
        match (env("CI_NODE_INDEX"), env("CI_NODE_TOTAL")) {
            (Some(i), Some(n)) => {
                let total = parse_count(&n, "CI_NODE_TOTAL")?;
                let index = parse_index(&i, "CI_NODE_INDEX", 1, total)?;
                Ok(Shard { index, total })
            }
            _ => Err(ShardError::NoEnvironment),
        }
    }

    /// 1-based index.
    pub fn index(self) -> u32 {
        self.index
    }

    pub fn total(self) -> u32 {
        self.total
    }

    /// Does request index `i` belong to this shard?
    pub fn owns(self, i: u64) -> bool {
        i % u64::from(self.total) == u64::from(self.index - 1)
    }

    /// The global request index of this shard's `k`-th request.
    pub fn global_index(self, k: u64) -> u64 {
        k.saturating_mul(u64::from(self.total))
            .saturating_add(u64::from(self.index - 1))
    }

    /// How many of the indices `0..count` this shard owns.
    pub fn share_of(self, count: u64) -> u64 {
        let (n, i) = (u64::from(self.total), u64::from(self.index - 1));
        count / n + u64::from(i < count % n)
    }

    /// This shard's users of a closed loop of `users`; refused when there
    /// are fewer users than shards.
    pub fn users_of(self, users: u32) -> Result<u32, ShardError> {
        if users < self.total {
            return Err(ShardError::TooFewUsers {
                shard: self,
                users,
                total: self.total,
            });
        }
        Ok(self.share_of(u64::from(users)) as u32)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

fn parse_count(text: &str, name: &str) -> Result<u32, ShardError> {
    parse_index(text, name, 1, MAX_SHARDS)
}

fn parse_index(text: &str, name: &str, low: u32, high: u32) -> Result<u32, ShardError> {
    match text.trim().parse::<u32>() {
        Ok(v) if (low..=high).contains(&v) => Ok(v),
        _ => Err(ShardError::Index {
            source_name: name.to_owned(),
            text: format!("`{}`", text.chars().take(40).collect::<String>()),
            low,
            high,
            total: high - low + 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measured share after a warm-up of `w` (what `Plan::measured_requests`
    /// computes) counts exactly the shard's indices in `w..w+n`.
    #[test]
    fn the_measured_share_after_a_warm_up_counts_the_shards_own_indices() {
        for total in 1..=6u32 {
            for index in 1..=total {
                let s = Shard { index, total };
                for w in 0..7u64 {
                    for n in 0..25u64 {
                        let own = (w..w + n)
                            .filter(|i| i % u64::from(total) == u64::from(index - 1))
                            .count() as u64;
                        assert_eq!(
                            s.share_of(w + n) - s.share_of(w),
                            own,
                            "{index}/{total} w {w} n {n}"
                        );
                    }
                }
            }
        }
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn every_request_index_belongs_to_exactly_one_shard() {
        let shards: Vec<Shard> = (1..=4).map(|i| Shard::new(i, 4).unwrap()).collect();
        for i in 0..1000u64 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1, "index {i}");
        }
        for s in &shards {
            for k in 0..50 {
                assert!(s.owns(s.global_index(k)));
            }
        }
        let shares: Vec<u64> = shards.iter().map(|s| s.share_of(102)).collect();
        assert_eq!(shares, [26, 26, 25, 25]);
        assert_eq!(shares.iter().sum::<u64>(), 102);
    }

    #[test]
    fn users_are_split_and_more_shards_than_users_is_refused() {
        let users: Vec<u32> = (1..=3)
            .map(|i| Shard::new(i, 3).unwrap().users_of(8).unwrap())
            .collect();
        assert_eq!(users, [3, 3, 2]);
        let err = Shard::new(1, 4).unwrap().users_of(3).unwrap_err();
        assert!(
            err.to_string()
                .contains("3 user(s), fewer than the 4 shards"),
            "{err}"
        );
    }

    #[test]
    fn the_shard_text_is_one_based_and_bounded() {
        assert_eq!(
            Shard::parse("2/4", "--shard").unwrap(),
            Shard::new(2, 4).unwrap()
        );
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "1/1001", ""] {
            let err = Shard::parse(bad, "--shard").unwrap_err().to_string();
            assert!(err.starts_with("--shard: expected I/N"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_kubernetes_index_is_zero_based_and_wins_over_gitlab() {
        let env = env_of(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("CI_NODE_INDEX", "3"),
            ("CI_NODE_TOTAL", "3"),
        ]);
        assert_eq!(
            Shard::from_env(&env, Some(2)).unwrap(),
            Shard::new(1, 2).unwrap()
        );
        let err = Shard::from_env(&env, None).unwrap_err();
        assert_eq!(err, ShardError::NoTotal);
        let env = env_of(&[
            ("JOB_COMPLETION_INDEX", "2"),
            ("TOKENGATE_SHARD_TOTAL", "2"),
        ]);
        let err = Shard::from_env(&env, None).unwrap_err().to_string();
        assert!(
            err.contains("JOB_COMPLETION_INDEX is `2`: expected an integer from 0 to 1"),
            "{err}"
        );
    }

    #[test]
    fn gitlab_node_variables_are_one_based() {
        let env = env_of(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "3")]);
        assert_eq!(
            Shard::from_env(&env, None).unwrap(),
            Shard::new(3, 3).unwrap()
        );
        let env = env_of(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "3")]);
        assert!(Shard::from_env(&env, None).is_err());
        assert_eq!(
            Shard::from_env(&env_of(&[]), None).unwrap_err(),
            ShardError::NoEnvironment
        );
    }
}
