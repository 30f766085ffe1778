-- The ACD's withdrawal of a call that ended unanswered: out of its queue, and out of the
-- offer ringing for it, whose agent is free again (when still offered this call).
--
-- KEYS (after the shared ones): 3 the offers by expiry.
-- ARGV (after the shared ones): 6 call id, 7 its queued-call key, 8 its offer key, 9 a
-- queue's waiting calls' key less its queue, 10 and 11 a queue's figures' key before and
-- after its queue, 12 the figure the call counts in ('' none), 13 the figures' lifetime in
-- seconds, 14 the freed agent's reason as a JSON string, 15 the call's end mark ('' when
-- the call has not ended: only taken out), 16 the mark's lifetime in seconds.
-- Returns {queued call JSON ('' when its record is lost), freed agent id or '', the agent's
-- move's number or 0}; {} when the call was neither queued nor offered (a consultation's
-- offer aside); nil while another decision holds the lock.

local call_id = ARGV[6]
local queued = redis.call('GET', ARGV[7])
if ARGV[15] ~= '' then
  -- An ended call is never queued again: one written as waiting but not yet in the ACD
  -- is refused when it comes (see enqueue.lua), and counts in this figure then. The first
  -- mark stands: the end learnt again (a provider's retry, a second step that ends the
  -- call) must not have the call counted twice.
  local figure = ARGV[12]
  if queued then
    figure = ''
  end
  redis.call('SET', ARGV[15], figure, 'NX', 'EX', ARGV[16])
end
-- Most calls end answered, out of every queue and offer: they need not wait for the lock
-- (a call not queued now cannot be queued by this decision either way).
if not queued and redis.call('EXISTS', ARGV[8]) == 0 then
  return {}
end
if held_by_another() then
  return false
end
local freed, changes = '', 0
local offer = redis.call('GET', ARGV[8])
local function drop_offer()
  redis.call('DEL', ARGV[8])
  redis.call('ZREM', KEYS[3], call_id)
  local agent_id = tostring(cjson.decode(offer)['agent_id'])
  local offered = agent_field(agent_id, 'state') == '"offered"'
  if offered and agent_field(agent_id, 'call_id') == cjson.encode(call_id) then
    changes = move_agent(agent_id, '"available"', ARGV[14], 'null')
    freed = agent_id
  end
end
local function count(queue)
  if ARGV[12] ~= '' then
    local figures = ARGV[10] .. queue .. ARGV[11]
    redis.call('HINCRBY', figures, ARGV[12], 1)
    redis.call('EXPIRE', figures, ARGV[13])
  end
end
if not queued then
  -- A consultation's offer rings a colleague of the call's agent: it ends with the call's
  -- own end (``consult_over``), and the call was in no queue.
  if not offer or cjson.decode(offer)['consult'] then
    return {}
  end
  -- Its queued record lost with part of Redis's data: the offer goes all the same, else
  -- its agent would ring for the call until they logged out (nothing else ends an offer
  -- whose call is in no queue). It counts now, in the offer's queue, and never again.
  drop_offer()
  count(cjson.decode(offer)['queue'])
  if ARGV[15] ~= '' then
    redis.call('SET', ARGV[15], '', 'EX', ARGV[16])
  end
  return {'', freed, changes}
end
if offer then
  drop_offer()
end
local queue = cjson.decode(queued)['queue']
redis.call('ZREM', ARGV[9] .. queue, call_id)
redis.call('DEL', ARGV[7])
count(queue)
return {queued, freed, changes}
