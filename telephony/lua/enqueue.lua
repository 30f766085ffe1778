-- The ACD takes a waiting call, unless the call is known to have ended: its caller hung up
-- after the call was written as waiting and before the ACD had it, and that end's
-- withdrawal, finding nothing to take out, left a mark. The call then counts once in the
-- figure the mark names, as if it had been taken out.
--
-- KEYS: 1 the call's queued-call key, 2 the queue's waiting calls, 3 the queues, 4 the
-- call's end mark, 5 the queue's figures.
-- ARGV: 1 call id, 2 the queued call as JSON, 3 its score, 4 the queue, 5 the figures'
-- lifetime in seconds, 6 '1' to take the call only if the ACD holds no record of it (a
-- lost call queued again: another sweep, or a dispatch, may have taken it meanwhile).
-- Returns 1 when the call waits, 0 when it has ended (or is held already, with ARGV 6).

local ended = redis.call('GET', KEYS[4])
if ended then
  if ended ~= '' then
    redis.call('HINCRBY', KEYS[5], ended, 1)
    redis.call('EXPIRE', KEYS[5], ARGV[5])
    redis.call('SET', KEYS[4], '', 'KEEPTTL')
  end
  return 0
end
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[4])
return 1
