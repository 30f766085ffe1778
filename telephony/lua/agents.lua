-- Shared by the ACD's scripts (prepended to each, after changes.lua). A script takes its
-- decision at once, atomically, unless another decision of several steps holds the ACD's
-- lock; the lock's holder runs it with its token.
--
-- KEYS: 1 the ACD lock, 2 the counter of presence changes; each script's own follow.
-- ARGV: 1 the lock token ('' when not holding it), 2 an agent's key less its id, 3 an
-- index of available agents' key less its queue, 4 now as a JSON string, 5 now as a
-- POSIX timestamp; each script's own follow.

local function held_by_another()
  local holder = redis.call('GET', KEYS[1])
  return holder and holder ~= ARGV[1]
end

local function agent_field(agent_id, name)
  return redis.call('HGET', ARGV[2] .. agent_id, name)
end

-- Move an agent as telephony.presence does (each field a JSON document): to ``state``
-- since now, the move counted, and the index of available agents kept with it. Returns
-- the move's number in the count of presence changes.
local function move_agent(agent_id, state, reason_json, call_id_json)
  local key = ARGV[2] .. agent_id
  local queues = redis.call('HGET', key, 'queues')
  local changes = next_change(KEYS[2], ARGV[5])
  redis.call('HSET', key,
    'state', state, 'since', ARGV[4], 'reason', reason_json, 'call_id', call_id_json,
    'wrap_up_until', 'null', 'changes', tostring(changes))
  if queues then
    for _, q in ipairs(cjson.decode(queues)) do
      if state == '"available"' then
        redis.call('ZADD', ARGV[3] .. q, ARGV[5], agent_id)
      else
        redis.call('ZREM', ARGV[3] .. q, agent_id)
      end
    end
  end
  return changes
end
