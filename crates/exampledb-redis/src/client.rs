//! Sending requests: on a pooled connection, within the operation's deadline, retried
//! once on a new connection when the old one broke; the write script call; and the size
//! checks against the server's `proto-max-bulk-len` (read once, when first needed).

use std::sync::atomic::Ordering;

use exampledb_core::{Error, ErrorKind, Operation, Result};
use tokio::time::Instant;

use crate::conn::Handle;
use crate::error::{
    classify, is_connection_error, is_noscript, is_protocol_error, is_refusal, BACKEND,
};
use crate::{script, RedisDatabase};

/// The largest bulk argument every Redis server accepts: `proto-max-bulk-len` cannot be
/// set below 1mb. Requests whose arguments all fit need no knowledge of the server's limit.
pub(crate) const ALWAYS_ACCEPTED: u64 = 1 << 20;
/// Redis's default `proto-max-bulk-len`, assumed where the server does not tell its own
/// (`CONFIG` refused or renamed, as on managed Redis).
pub(crate) const DEFAULT_BULK_LIMIT: u64 = 512 << 20;

/// The arguments of one call of the write script (see `script.rs`).
pub(crate) struct ScriptCall<'a> {
    pub(crate) op: &'a str,
    pub(crate) value: &'a [u8],
    pub(crate) delete_payload: &'a str,
    pub(crate) save_payload: &'a str,
    pub(crate) added_before: bool,
}

/// What one script call changed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Changed {
    pub(crate) added: bool,
}

impl RedisDatabase {
    /// Sends one request built by `send` on a pooled connection, within the operation
    /// timeout, counting round trips. A connection-level failure discards the connection
    /// and the request is sent once more on a new one (operations are idempotent).
    pub(crate) async fn request<T, F, Fut>(&self, operation: Operation, send: F) -> Result<T>
    where
        F: Fn(Handle) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let deadline = Instant::now() + self.inner.operation_timeout;
        self.request_with(operation, deadline, None, true, send)
            .await
    }

    /// [`Self::request`] with the operation's `deadline`; `large` names the request's
    /// argument over [`ALWAYS_ACCEPTED`] when it has one (see [`Self::check_sizes`]):
    /// then a connection the server closes is not retried, since the server closes a
    /// connection on an argument over its `proto-max-bulk-len` and would again. `counted`:
    /// whether [`RedisDatabase::round_trips`] counts the request.
    pub(crate) async fn request_with<T, F, Fut>(
        &self,
        operation: Operation,
        deadline: Instant,
        large: Option<Large>,
        counted: bool,
        send: F,
    ) -> Result<T>
    where
        F: Fn(Handle) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut retried = false;
        loop {
            let (ticket, handle) = match tokio::time::timeout_at(deadline, self.inner.lanes.get())
                .await
            {
                Ok(Ok(got)) => got,
                Ok(Err(e)) => return Err(self.pool_error(operation, e)),
                Err(_) => return Err(self.timeout_error(operation, self.inner.operation_timeout)),
            };
            if counted {
                self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            let e = match tokio::time::timeout_at(deadline, send(handle)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => e,
                Err(_) => {
                    // The connection may be stuck (a dead peer, a cut proxy): do not reuse it.
                    self.inner.lanes.discard(ticket).await;
                    return Err(self.timeout_error(operation, self.inner.operation_timeout));
                }
            };
            if e.is_timeout() {
                // The client's own response timeout (the same length): as above.
                self.inner.lanes.discard(ticket).await;
                return Err(self.timeout_error(operation, self.inner.operation_timeout));
            }
            // After a protocol error the server closes the connection.
            let broken = is_connection_error(&e) || is_protocol_error(&e);
            if !broken {
                return Err(self.redis_error(operation, e));
            }
            self.inner.lanes.discard(ticket).await;
            let (kind, temporary) = classify(&e);
            if let Some(large) = large {
                if kind != ErrorKind::Unauthenticated {
                    // The server's limit may have been lowered since it was read.
                    self.inner.bulk_limit.store(0, Ordering::Relaxed);
                    return Err(self.too_large_error(operation, large, e));
                }
            }
            if retried || !temporary {
                return Err(self.redis_error(operation, e));
            }
            tracing::debug!(server = %self.inner.server, error = %e, "connection failed; retrying on a new one");
            retried = true;
        }
    }

    /// Checks the sizes of a request's arguments (`(what, bytes)`) before it is sent.
    /// Arguments up to [`ALWAYS_ACCEPTED`] need no check and cost nothing; a request with
    /// a larger one needs the server's `proto-max-bulk-len` (read once, see
    /// [`Self::bulk_limit`]) and is refused with [`Error::TooLarge`] when an argument
    /// exceeds it. Returns the first argument over [`ALWAYS_ACCEPTED`], if any.
    pub(crate) async fn check_sizes(
        &self,
        operation: Operation,
        deadline: Instant,
        args: &[(&'static str, usize)],
    ) -> Result<Option<Large>> {
        // The first large one names the request in errors: the value rather than the
        // event payload made from it.
        let Some(&(what, size)) = args
            .iter()
            .find(|(_, size)| u64::try_from(*size).map_or(true, |s| s > ALWAYS_ACCEPTED))
        else {
            return Ok(None);
        };
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        let limit = self.bulk_limit(operation, deadline).await?;
        for &(what, size) in args {
            let size = u64::try_from(size).unwrap_or(u64::MAX);
            if size > limit {
                return Err(Error::TooLarge {
                    backend: BACKEND,
                    operation,
                    location: self.inner.server.clone(),
                    what,
                    size,
                    limit,
                });
            }
        }
        Ok(Some(Large { what, size, limit }))
    }

    /// The server's `proto-max-bulk-len` (on a cluster the lowest of its primaries'),
    /// read with `CONFIG GET` the first time it is needed and again after a server closed
    /// a connection on a large request; the default 512 MiB where `CONFIG` is refused or
    /// renamed. The lookup is not counted in [`RedisDatabase::round_trips`].
    async fn bulk_limit(&self, operation: Operation, deadline: Instant) -> Result<u64> {
        let known = self.inner.bulk_limit.load(Ordering::Relaxed);
        if known != 0 {
            return Ok(known);
        }
        let Ok(_lookup) =
            tokio::time::timeout_at(deadline, self.inner.bulk_limit_lookup.lock()).await
        else {
            return Err(self.timeout_error(operation, self.inner.operation_timeout));
        };
        let known = self.inner.bulk_limit.load(Ordering::Relaxed);
        if known != 0 {
            return Ok(known);
        }
        let replies = self
            .request_with(operation, deadline, None, false, |h| async move {
                match config_get_bulk_limit(h).await {
                    Err(e) if is_refusal(&e) => {
                        tracing::debug!(error = %e, "CONFIG GET proto-max-bulk-len refused; assuming Redis's default");
                        Ok(Vec::new())
                    }
                    other => other,
                }
            })
            .await?;
        let limit = replies
            .iter()
            .map(|reply| parse_bulk_limit(reply).unwrap_or(DEFAULT_BULK_LIMIT))
            .min()
            .unwrap_or(DEFAULT_BULK_LIMIT)
            .max(1);
        tracing::debug!(server = %self.inner.server, limit, "read proto-max-bulk-len");
        self.inner.bulk_limit.store(limit, Ordering::Relaxed);
        Ok(limit)
    }

    /// Runs the write script: `EVALSHA`, or `EVAL` when the server does not know it yet.
    pub(crate) async fn script(
        &self,
        operation: Operation,
        keys: &[&[u8]],
        call: ScriptCall<'_>,
    ) -> Result<Changed> {
        let ScriptCall {
            op,
            value,
            delete_payload,
            save_payload,
            added_before,
        } = call;
        let deadline = Instant::now() + self.inner.operation_timeout;
        let large = self
            .check_sizes(
                operation,
                deadline,
                &[
                    ("key", keys.first().map_or(0, |k| k.len())),
                    ("key", keys.get(1).map_or(0, |k| k.len())),
                    ("value", value.len()),
                    ("event payload", delete_payload.len()),
                    ("event payload", save_payload.len()),
                    ("listener channel name", self.inner.channel.len()),
                ],
            )
            .await?;
        let build = |first: &str, body: &str| {
            let mut cmd = redis::cmd(first);
            cmd.arg(body).arg(keys.len());
            for k in keys {
                cmd.arg(*k);
            }
            cmd.arg(value)
                .arg(self.inner.ttl_seconds)
                .arg(&self.inner.channel)
                .arg(op)
                .arg(delete_payload)
                .arg(save_payload)
                .arg(if added_before { "1" } else { "0" });
            cmd
        };
        let evalsha = build("EVALSHA", &script::SHA);
        let result = self
            .request_with(operation, deadline, large, true, |mut h| {
                let cmd = evalsha.clone();
                async move { cmd.query_async::<(i64, i64)>(&mut h).await }
            })
            .await;
        let (removed, added) = match result {
            Err(e) if is_noscript(&e) => {
                // EVAL also caches the script on that server for the next EVALSHA.
                let eval = build("EVAL", script::SOURCE);
                self.request_with(operation, deadline, large, true, |mut h| {
                    let cmd = eval.clone();
                    async move { cmd.query_async::<(i64, i64)>(&mut h).await }
                })
                .await?
            }
            other => other?,
        };
        let _ = removed;
        Ok(Changed { added: added == 1 })
    }
}

/// The first argument of a request over [`ALWAYS_ACCEPTED`] bytes (in the order key,
/// value, event payload), and the server's `proto-max-bulk-len` it was checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Large {
    pub(crate) what: &'static str,
    pub(crate) size: u64,
    pub(crate) limit: u64,
}

/// `CONFIG GET proto-max-bulk-len` on the server, or on every primary of a cluster: one
/// reply per server.
async fn config_get_bulk_limit(mut h: Handle) -> redis::RedisResult<Vec<redis::Value>> {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("GET").arg("proto-max-bulk-len");
    match &mut h {
        #[cfg(feature = "cluster")]
        Handle::Cluster(c) => {
            use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
            // Without a response policy: a map from each primary's address to its reply.
            let value = c
                .route_command(
                    cmd,
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
                )
                .await?;
            Ok(match value {
                redis::Value::Map(replies) => replies.into_iter().map(|(_, v)| v).collect(),
                other => vec![other],
            })
        }
        _ => Ok(vec![cmd.query_async(&mut h).await?]),
    }
}

/// The limit in a `CONFIG GET proto-max-bulk-len` reply (`[name, value]`, or a map in
/// RESP3); `None` when the reply holds none (an error, an unknown parameter).
fn parse_bulk_limit(reply: &redis::Value) -> Option<u64> {
    use redis::Value as V;
    let value = match reply {
        V::Array(items) => items.get(1)?,
        V::Map(pairs) => &pairs.first()?.1,
        _ => return None,
    };
    match value {
        V::BulkString(text) => std::str::from_utf8(text).ok()?.trim().parse().ok(),
        V::SimpleString(text) => text.trim().parse().ok(),
        V::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_limit_replies_are_parsed() {
        use redis::Value as V;
        let name = || V::BulkString(b"proto-max-bulk-len".to_vec());
        let pair = V::Array(vec![name(), V::BulkString(b"1048576".to_vec())]);
        assert_eq!(parse_bulk_limit(&pair), Some(1 << 20));
        let map = V::Map(vec![(name(), V::BulkString(b"536870912".to_vec()))]);
        assert_eq!(parse_bulk_limit(&map), Some(DEFAULT_BULK_LIMIT));
        assert_eq!(parse_bulk_limit(&V::Array(vec![])), None);
        assert_eq!(parse_bulk_limit(&V::Nil), None);
    }
}
