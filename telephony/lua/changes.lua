-- The count of presence changes, which orders an agent's states wherever they are shown
-- (consoles keep the newest number they have seen). Each move takes the next number, and
-- never one below now in milliseconds: a count that Redis lost, or brought back older
-- from a snapshot or a replica, goes on above the numbers handed out before.

local function next_change(counter, now_timestamp)
  local number = redis.call('INCR', counter)
  local floor = math.floor(tonumber(now_timestamp) * 1000)
  if number < floor then
    -- Written as digits: some Redis versions turn a Lua number such as 1.7965e+12 into
    -- that text, which INCR then refuses as not an integer.
    redis.call('SET', counter, string.format('%d', floor))
    number = floor
  end
  return number
end
