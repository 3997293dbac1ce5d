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
    /// A NATS server, or servers of one NATS cluster (`nats://HOST:PORT`
    /// each): `nats://HOST:PORT[,HOST:PORT…]`.
    Nats(Vec<String>),
}

/// The scheme of NATS servers.
const NATS_SCHEME: &str = "nats://";

/// `scheme` and each `HOST:PORT` of the comma-separated `list`; an error
/// naming `url` if one is empty.
fn servers(scheme: &str, list: &str, url: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(|server| match server.trim() {
            "" => Err(format!(
                "must list servers ({scheme}HOST:PORT[,HOST:PORT…]), got {url:?}"
            )),
            server => Ok(format!("{scheme}{server}")),
        })
        .collect()
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
        if let Some(list) = url.strip_prefix(NATS_SCHEME) {
            let servers = servers(NATS_SCHEME, list, url)?;
            for server in &servers {
                let authority = server.trim_start_matches(NATS_SCHEME);
                if authority
                    .rsplit_once(':')
                    .is_none_or(|(_, port)| port.parse::<u16>().is_err())
                {
                    return Err(format!("has a server without a port in {url:?}: {server}"));
                }
            }
            return Ok(Self::Nats(servers));
        }
        if let Some(list) = url.strip_prefix(CLUSTER_SCHEME) {
            let seeds = servers("redis://", list, url).map_err(|_| {
                format!(
                    "must list seed nodes ({CLUSTER_SCHEME}HOST:PORT[,HOST:PORT…]), got {url:?}"
                )
            })?;
            for seed in &seeds {
                if let Err(err) = redis::Client::open(seed.as_str()) {
                    return Err(format!("has a bad seed node in {url:?}: {err}"));
                }
            }
            return Ok(Self::RedisCluster(seeds));
        }
        match redis::Client::open(url) {
            Ok(_) => Ok(Self::Redis(url.to_owned())),
            Err(err) => Err(format!(
                "must be a Redis URL (redis://HOST:PORT), a Redis Cluster's seeds \
                 ({CLUSTER_SCHEME}HOST:PORT[,HOST:PORT…]) or NATS servers \
                 ({NATS_SCHEME}HOST:PORT[,HOST:PORT…]), got {url:?}: {err}"
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
        assert_eq!(
            BackplaneUrl::parse("nats://127.0.0.1:4222,127.0.0.1:4223"),
            Ok(BackplaneUrl::Nats(vec![
                "nats://127.0.0.1:4222".into(),
                "nats://127.0.0.1:4223".into()
            ]))
        );
        let err = BackplaneUrl::parse("nats://a").expect_err("no port");
        assert!(err.contains("without a port"), "{err}");
        let err = BackplaneUrl::parse("http://x").expect_err("not Redis");
        assert!(err.contains("must be a Redis URL"), "{err}");
    }
}
