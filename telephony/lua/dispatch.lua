-- The ACD's dispatch: offer waiting calls of one queue to its free agents until either
-- runs out.
--
-- KEYS (after the shared ones): 3 the queue's waiting calls, 4 its index of available
-- agents, 5 the offers by expiry, 6 the queue's last-served agent, 7 the queue's figures
-- of the day.
-- ARGV (after the shared ones): 6 queue, 7 strategy, 8 skill ('' none), 9 now as an ISO
-- date, 10 expiry as an ISO date, 11 expiry as a POSIX timestamp, 12 a queued call's key
-- less its id, 13 an offer's key less its call id, 14 the figures' lifetime in seconds,
-- 15 the one call to offer ('' the queue's front), 16 the one agent to offer it to (''
-- the queue's choice).
-- Returns {call id, agent id, queued call JSON, the agent's move's number} for each offer
-- made; nil while another decision holds the lock.

if held_by_another() then
  return false
end

local strategy, skill = ARGV[7], ARGV[8]

local function has_skill(agent_id)
  local skills = agent_field(agent_id, 'skills')
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
  if ARGV[16] ~= '' then
    if agent_field(ARGV[16], 'state') == '"available"' then
      table.insert(found, {ARGV[16], 0})
    end
    return found
  end
  local ranked = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
  for i = 1, #ranked, 2 do
    local id, since = ranked[i], tonumber(ranked[i + 1])
    -- Longest idle needs no more than the first agent and those freed with them.
    if strategy == 'longest_idle' and #found > 0 and since ~= found[1][2] then break end
    if agent_field(id, 'state') == '"available"' and (strategy ~= 'skills' or has_skill(id)) then
      table.insert(found, {id, since})
    end
  end
  return found
end

local function pick()
  local found = candidates()
  if #found == 0 then return nil end
  if strategy == 'round_robin' then
    local last = tonumber(redis.call('GET', KEYS[6]) or '0')
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
    best_changes = best_changes or tonumber(agent_field(best[1], 'changes') or '0')
    local changes = tonumber(agent_field(found[i][1], 'changes') or '0')
    if changes < best_changes then
      best, best_changes = found[i], changes
    end
  end
  return best[1]
end

local offers = {}
while true do
  local call_id
  if ARGV[15] ~= '' then
    if #offers > 0 or not redis.call('ZSCORE', KEYS[3], ARGV[15]) then break end
    call_id = ARGV[15]
  else
    local front = redis.call('ZRANGE', KEYS[3], 0, 0)
    if #front == 0 then break end
    call_id = front[1]
  end
  local queued = redis.call('GET', ARGV[12] .. call_id)
  if not queued then
    -- A waiting call without its record cannot be offered: it leaves the queue.
    redis.call('ZREM', KEYS[3], call_id)
  else
    local agent_id = pick()
    if agent_id == nil then break end
    local changes = move_agent(agent_id, '"offered"', '""', cjson.encode(call_id))
    redis.call('ZREM', KEYS[3], call_id)
    redis.call('SET', ARGV[13] .. call_id, cjson.encode({
      call_id = call_id, agent_id = tonumber(agent_id), queue = ARGV[6],
      offered_at = ARGV[9], expires_at = ARGV[10], changes = changes,
    }))
    redis.call('ZADD', KEYS[5], ARGV[11], call_id)
    redis.call('SET', KEYS[6], agent_id)
    redis.call('HINCRBY', KEYS[7], 'offered', 1)
    redis.call('EXPIRE', KEYS[7], ARGV[14])
    table.insert(offers, {call_id, agent_id, queued, changes})
  end
end
return offers
