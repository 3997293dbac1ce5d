//! Where a backplane lives: the URL of `--backplane`, read once, so a bad
//! one is an error at start-up and each backplane gets its servers.

/// The backplane a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackplaneUrl {
    /// One Redis server: `redis://HOST:PORT` (the URL as given, which the
    /// Redis client reads itself: a database, a user and password).
    Redis(String),
    /// A Redis Cluster, found from these seed nodes (`redis://HOST:PORT`
    /// each): `redis-cluster://HOST:PORT[,HOST:PORT…]`.
    RedisCluster(Vec<String>),
}

/// The scheme of a Redis Cluster's seed list.
const CLUSTER_SCHEME: &str = "redis-cluster://";

impl BackplaneUrl {
    /// Reads `url`.
    ///
    /// # Errors
    ///
    /// A sentence saying what is wrong with it, for a
    /// [`ConfigError`](crate::ConfigError).
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(seeds) = url.strip_prefix(CLUSTER_SCHEME) {
            let seeds: Vec<String> = seeds
                .split(',')
                .map(|seed| format!("redis://{}", seed.trim()))
                .collect();
            for seed in &seeds {
                if seed == "redis://" {
                    return Err(format!(
                        "must list seed nodes ({CLUSTER_SCHEME}HOST:PORT[,HOST:PORT…]), got {url:?}"
                    ));
                }
                if let Err(err) = redis::Client::open(seed.as_str()) {
                    return Err(format!("has a bad seed node in {url:?}: {err}"));
                }
            }
            return Ok(Self::RedisCluster(seeds));
        }
        match redis::Client::open(url) {
            Ok(_) => Ok(Self::Redis(url.to_owned())),
            Err(err) => Err(format!(
                "must be a Redis URL (redis://HOST:PORT) or a Redis Cluster's seeds \
                 ({CLUSTER_SCHEME}HOST:PORT[,HOST:PORT…]), got {url:?}: {err}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BackplaneUrl;

    #[test]
    fn urls_name_their_backplane() {
        assert_eq!(
            BackplaneUrl::parse("redis://127.0.0.1:6379"),
            Ok(BackplaneUrl::Redis("redis://127.0.0.1:6379".into()))
        );
        assert_eq!(
            BackplaneUrl::parse("redis-cluster://127.0.0.1:7000, 127.0.0.1:7001"),
            Ok(BackplaneUrl::RedisCluster(vec![
                "redis://127.0.0.1:7000".into(),
                "redis://127.0.0.1:7001".into()
            ]))
        );
        let err = BackplaneUrl::parse("redis-cluster://").expect_err("no seed");
        assert!(err.contains("must list seed nodes"), "{err}");
        let err = BackplaneUrl::parse("redis-cluster://a:1,").expect_err("an empty seed");
        assert!(err.contains("must list seed nodes"), "{err}");
        let err = BackplaneUrl::parse("http://x").expect_err("not Redis");
        assert!(err.contains("must be a Redis URL"), "{err}");
    }
}
