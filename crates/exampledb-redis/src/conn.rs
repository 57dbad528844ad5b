//! Connections: a few multiplexed connections ("lanes") taken from the deadpool pool and
//! kept, so the hot path costs no pool round trip.
//!
//! deadpool-redis checks a connection on every checkout with an `UNWATCH` + `PING` round
//! trip. A multiplexed connection already pipelines every request sent through it, so the
//! database takes `pool_size` connections from the pool once, spreads operations over them
//! round-robin, and hands a connection back for good (removing it from the pool, which
//! then opens a new one) only when a request on it fails at the connection level.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::Mutex;

/// A cheap clone of a connection that requests can be sent through.
#[derive(Clone)]
pub(crate) enum Handle {
    Single(MultiplexedConnection),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for Handle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Handle::Single(c) => c.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Handle::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Handle::Single(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "cluster")]
            Handle::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Handle::Single(c) => c.get_db(),
            #[cfg(feature = "cluster")]
            Handle::Cluster(c) => c.get_db(),
        }
    }
}

/// The pool connections come from.
pub(crate) enum Pool {
    Single(deadpool_redis::Pool),
    #[cfg(feature = "cluster")]
    Cluster(deadpool_redis::cluster::Pool),
}

/// A connection taken from the pool, held by a lane.
enum Pooled {
    Single(deadpool_redis::Connection),
    #[cfg(feature = "cluster")]
    Cluster(deadpool_redis::cluster::Connection),
}

impl Pooled {
    fn handle(&self) -> Handle {
        match self {
            Pooled::Single(c) => Handle::Single((**c).clone()),
            #[cfg(feature = "cluster")]
            Pooled::Cluster(c) => Handle::Cluster((**c).clone()),
        }
    }

    /// Removes the connection from the pool for good and closes it.
    fn discard(self) {
        match self {
            Pooled::Single(c) => drop(deadpool_redis::Connection::take(c)),
            #[cfg(feature = "cluster")]
            Pooled::Cluster(c) => drop(deadpool_redis::cluster::Connection::take(c)),
        }
    }
}

/// Why no connection could be had.
pub(crate) type GetError = deadpool_redis::PoolError;

struct Slot {
    generation: u64,
    handle: Handle,
    pooled: Pooled,
}

/// Identifies the connection a request went through, to discard exactly that one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    lane: usize,
    generation: u64,
}

pub(crate) struct Lanes {
    pool: Pool,
    slots: Vec<Mutex<Option<Slot>>>,
    next: AtomicUsize,
    generation: AtomicU64,
}

impl Lanes {
    pub(crate) fn new(pool: Pool, lanes: usize) -> Self {
        Self {
            pool,
            slots: (0..lanes.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// A connection to send a request through, opening one if its lane has none.
    pub(crate) async fn get(&self) -> Result<(Ticket, Handle), GetError> {
        let lane = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[lane].lock().await;
        if let Some(s) = slot.as_ref() {
            let ticket = Ticket {
                lane,
                generation: s.generation,
            };
            return Ok((ticket, s.handle.clone()));
        }
        let pooled = match &self.pool {
            Pool::Single(p) => Pooled::Single(p.get().await?),
            #[cfg(feature = "cluster")]
            Pool::Cluster(p) => Pooled::Cluster(p.get().await.map_err(cluster_error_to_single)?),
        };
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let handle = pooled.handle();
        *slot = Some(Slot {
            generation,
            handle: handle.clone(),
            pooled,
        });
        Ok((Ticket { lane, generation }, handle))
    }

    /// Drops the connection `ticket` names (if its lane still holds it): the next request
    /// on that lane opens a new one.
    pub(crate) async fn discard(&self, ticket: Ticket) {
        let mut slot = self.slots[ticket.lane].lock().await;
        if slot
            .as_ref()
            .is_some_and(|s| s.generation == ticket.generation)
        {
            if let Some(s) = slot.take() {
                s.pooled.discard();
            }
        }
    }
}

/// Both pools report `deadpool::managed::PoolError<RedisError>`; the aliases differ only
/// in name.
#[cfg(feature = "cluster")]
fn cluster_error_to_single(e: deadpool_redis::cluster::PoolError) -> GetError {
    e
}
