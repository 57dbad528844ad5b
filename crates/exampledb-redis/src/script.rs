//! The one Lua script every write runs: the set change, the EXPIREs and the conditional
//! PUBLISHes happen atomically on the server in one request.

use std::sync::LazyLock;

/// `KEYS`: the sets touched (full names, prefix included).
/// `ARGV`: value, ttl seconds, channel, op, delete payload, save payload, added-before.
///
/// Ops: `save` and `delete` on `KEYS[1]`; `move` from `KEYS[1]` to `KEYS[2]`; for Redis
/// Cluster, where one script may not touch two hash slots, a move is `add` on dest (no
/// event yet) then `remove-report` on src, which publishes the delete and, when the `add`
/// changed dest (`ARGV[7]` = "1"), the save: the events keep Hypothesis's order.
pub(crate) const SOURCE: &str = r#"
local value, ttl, channel, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local removed, added = 0, 0
if op == 'save' then
  added = redis.call('SADD', KEYS[1], value)
elseif op == 'delete' then
  removed = redis.call('SREM', KEYS[1], value)
elseif op == 'move' then
  removed = redis.call('SREM', KEYS[1], value)
  added = redis.call('SADD', KEYS[2], value)
elseif op == 'add' then
  local n = redis.call('SADD', KEYS[1], value)
  redis.call('EXPIRE', KEYS[1], ttl)
  return {0, n}
elseif op == 'remove-report' then
  removed = redis.call('SREM', KEYS[1], value)
  if ARGV[7] == '1' then added = 1 end
else
  return redis.error_reply('exampledb: unknown op ' .. op)
end
for i = 1, #KEYS do
  redis.call('EXPIRE', KEYS[i], ttl)
end
if removed == 1 then redis.call('PUBLISH', channel, ARGV[5]) end
if added == 1 then redis.call('PUBLISH', channel, ARGV[6]) end
return {removed, added}
"#;

/// SHA-1 of [`SOURCE`], for EVALSHA.
pub(crate) static SHA: LazyLock<String> =
    LazyLock::new(|| redis::Script::new(SOURCE).get_hash().to_owned());
