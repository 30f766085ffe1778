-- The ACD's dispatch as one atomic step: offer waiting calls of one queue to its free
-- agents until either runs out. Run inside Redis, it holds no lock across round trips;
-- it only refuses (returns nil) while another decision holds the ACD's lock, whose
-- holder passes its token to run it.
--
-- KEYS: 1 the queue's waiting calls, 2 its index of available agents, 3 the counter of
-- presence changes, 4 the offers by expiry, 5 the queue's last-served agent, 6 the
-- queue's figures of the day, 7 the ACD lock.
-- ARGV: 1 lock token ('' when not holding it), 2 queue, 3 strategy, 4 skill ('' none),
-- 5 now as a JSON string, 6 now as an ISO date, 7 expiry as an ISO date, 8 expiry as a
-- POSIX timestamp, 9 an agent's key less its id, 10 a queued call's key less its id,
-- 11 an offer's key less its call id, 12 an index key less its queue, 13 the figures'
-- lifetime in seconds, 14 the one call to offer ('' the queue's front), 15 the one
-- agent to offer it to ('' the queue's choice).
-- Returns {call id, agent id, queued call JSON} for each offer made.

local holder = redis.call('GET', KEYS[7])
if holder and holder ~= ARGV[1] then
  return false
end

local strategy, skill = ARGV[3], ARGV[4]

local function field(agent_id, name)
  return redis.call('HGET', ARGV[9] .. agent_id, name)
end

local function has_skill(agent_id)
  local skills = field(agent_id, 'skills')
  if not skills then return false end
  for _, s in ipairs(cjson.decode(skills)) do
    if s == skill then return true end
  end
  return false
end

-- Available agents of the queue as {id, idle since}, longest idle first. The index may
-- name an agent who moved on since: the record decides.
local function candidates()
  local found = {}
  if ARGV[15] ~= '' then
    if field(ARGV[15], 'state') == '"available"' then
      table.insert(found, {ARGV[15], 0})
    end
    return found
  end
  local ranked = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #ranked, 2 do
    local id = ranked[i]
    if field(id, 'state') == '"available"' and (strategy ~= 'skills' or has_skill(id)) then
      table.insert(found, {id, tonumber(ranked[i + 1])})
    end
  end
  return found
end

local function pick()
  local found = candidates()
  if #found == 0 then return nil end
  if strategy == 'round_robin' then
    local last = tonumber(redis.call('GET', KEYS[5]) or '0')
    local first, next_one = nil, nil
    for _, c in ipairs(found) do
      local id = tonumber(c[1])
      if first == nil or id < first then first = id end
      if id > last and (next_one == nil or id < next_one) then next_one = id end
    end
    return tostring(next_one or first)
  end
  -- Longest idle; agents freed at the same instant go by the order of their moves.
  local best, best_changes = found[1], nil
  for i = 2, #found do
    if found[i][2] ~= best[2] then break end
    best_changes = best_changes or tonumber(field(best[1], 'changes') or '0')
    local changes = tonumber(field(found[i][1], 'changes') or '0')
    if changes < best_changes then
      best, best_changes = found[i], changes
    end
  end
  return best[1]
end

local offers = {}
while true do
  local call_id
  if ARGV[14] ~= '' then
    if #offers > 0 or not redis.call('ZSCORE', KEYS[1], ARGV[14]) then break end
    call_id = ARGV[14]
  else
    local front = redis.call('ZRANGE', KEYS[1], 0, 0)
    if #front == 0 then break end
    call_id = front[1]
  end
  local queued = redis.call('GET', ARGV[10] .. call_id)
  if not queued then
    -- A waiting call without its record cannot be offered: it leaves the queue.
    redis.call('ZREM', KEYS[1], call_id)
  else
    local agent_id = pick()
    if agent_id == nil then break end
    local agent_key = ARGV[9] .. agent_id
    local queues = redis.call('HGET', agent_key, 'queues')
    local changes = redis.call('INCR', KEYS[3])
    redis.call('HSET', agent_key,
      'state', '"offered"', 'since', ARGV[5], 'reason', '""',
      'call_id', cjson.encode(call_id), 'wrap_up_until', 'null', 'changes', tostring(changes))
    if queues then
      for _, q in ipairs(cjson.decode(queues)) do
        redis.call('ZREM', ARGV[12] .. q, agent_id)
      end
    end
    redis.call('ZREM', KEYS[1], call_id)
    redis.call('SET', ARGV[11] .. call_id, cjson.encode({
      call_id = call_id, agent_id = tonumber(agent_id), queue = ARGV[2],
      offered_at = ARGV[6], expires_at = ARGV[7],
    }))
    redis.call('ZADD', KEYS[4], ARGV[8], call_id)
    redis.call('SET', KEYS[5], agent_id)
    redis.call('HINCRBY', KEYS[6], 'offered', 1)
    redis.call('EXPIRE', KEYS[6], ARGV[13])
    table.insert(offers, {call_id, agent_id, queued})
  end
end
return offers
