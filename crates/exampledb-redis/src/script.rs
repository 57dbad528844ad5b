//! The one Lua script every write runs: the set change, the EXPIREs and the conditional
//! PUBLISHes in one request.
//!
//! Redis runs a script without interleaving any other client's command, but it does not
//! roll a script back: when a command inside fails, what the script did before it stays
//! done. So the script checks everything that can make one of its commands fail before it
//! changes anything, and a failed call changes nothing:
//!
//! - the type of every key it touches (a set, or no key at all): a key of another type
//!   makes `SADD`/`SREM` fail with `WRONGTYPE`. The error reply names the key's type.
//! - the user's ACL permissions for every command it will run, keys and the listener
//!   channel included (`redis.acl_check_cmd`, Redis 7 and later; before 7 the check is
//!   skipped). A user created on Redis 7 has no channel permission unless given one, so
//!   without this check a save would change the set and then fail on `PUBLISH`.
//! - the server's state: over `maxmemory` with `noeviction` Redis refuses `SADD` (a
//!   `denyoom` command; `SREM`, `EXPIRE` and `PUBLISH` are not), and a read-only replica,
//!   a failed background save (`MISCONF`) or too few replicas refuse every write. These
//!   refusals come before a script's first write or not at all: Redis 7 makes them only
//!   before it, and the state they depend on cannot change while a script runs. A move
//!   also runs its `SADD` before its `SREM`: over `maxmemory` the move is refused before
//!   anything changed (as Hypothesis's `MULTI`/`EXEC` move is), and on a server that
//!   checked every command rather than only the first write, the refusal would still
//!   come first.
//!
//! What remains is the server itself failing mid-script (killed), where what was in
//! memory is gone anyway.

use std::sync::LazyLock;

/// The Lua script every write runs (loaded once per server, then called by `EVALSHA`):
/// for inspection, and for benchmarks that replay the exact server-side work.
///
/// ```
/// assert!(exampledb_redis::write_script_source().contains("PUBLISH"));
/// ```
pub fn write_script_source() -> &'static str {
    SOURCE
}

/// `KEYS`: the sets touched (full names, prefix included).
/// `ARGV`: value, ttl seconds, channel, op, delete payload, save payload, added-before.
///
/// Ops: `save` and `delete` on `KEYS[1]`; `move` from `KEYS[1]` to `KEYS[2]`; for Redis
/// Cluster, where one script may not touch two hash slots, a move is `add` on dest (no
/// event yet) then `remove-report` on src, which publishes the delete and, when the `add`
/// changed dest (`ARGV[7]` = "1"), the save: the events keep Hypothesis's order.
///
/// Error replies: `WRONGTYPE exampledb: the <role> holds a <type>, not a set` and
/// `NOPERM exampledb: this user may not run <COMMAND> on the <role>`.
pub(crate) const SOURCE: &str = r#"
local value, ttl, channel, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- Which key the op adds to and which it removes from, and what each key is called.
local adds, removes, roles
if op == 'save' then
  adds, roles = 1, {'key'}
elseif op == 'delete' then
  removes, roles = 1, {'key'}
elseif op == 'move' then
  removes, adds, roles = 1, 2, {'source key', 'destination key'}
elseif op == 'add' then
  adds, roles = 1, {'destination key'}
elseif op == 'remove-report' then
  removes, roles = 1, {'source key'}
else
  return redis.error_reply('ERR exampledb: unknown op ' .. op)
end
-- Redis does not undo a script's writes when a later command fails: check everything
-- that can fail before the first change.
for i = 1, #KEYS do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'set' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE exampledb: the ' .. roles[i] .. ' holds a ' .. t .. ', not a set')
  end
end
if redis.acl_check_cmd then
  local function check(command, i, ...)
    if not redis.acl_check_cmd(command, KEYS[i], ...) then
      return redis.error_reply('NOPERM exampledb: this user may not run ' .. command .. ' on the ' .. roles[i])
    end
  end
  local denied = (adds and check('SADD', adds, '')) or (removes and check('SREM', removes, ''))
  for i = 1, #KEYS do
    denied = denied or check('EXPIRE', i, ttl)
  end
  if denied then return denied end
  if op ~= 'add' and not redis.acl_check_cmd('PUBLISH', channel, '') then
    return redis.error_reply('NOPERM exampledb: this user may not PUBLISH to the listener channel')
  end
end
-- Add before remove: SADD is the only command here Redis may refuse for memory, and it
-- refuses only a script's first write.
local removed, added = 0, 0
if adds then added = redis.call('SADD', KEYS[adds], value) end
if removes then removed = redis.call('SREM', KEYS[removes], value) end
for i = 1, #KEYS do
  redis.call('EXPIRE', KEYS[i], ttl)
end
if op == 'add' then return {0, added} end
if op == 'remove-report' and ARGV[7] == '1' then added = 1 end
-- Hypothesis's order: the delete event before the save event.
if removed == 1 then redis.call('PUBLISH', channel, ARGV[5]) end
if added == 1 then redis.call('PUBLISH', channel, ARGV[6]) end
return {removed, added}
"#;

/// SHA-1 of [`SOURCE`], for EVALSHA.
pub(crate) static SHA: LazyLock<String> =
    LazyLock::new(|| redis::Script::new(SOURCE).get_hash().to_owned());
